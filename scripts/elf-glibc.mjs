// Which glibc a shared object needs: the GLIBC_x.y versions in its version-needed table
// (.gnu.version_r, DT_VERNEED), which is exactly what the dynamic loader checks when it loads the
// file (`version 'GLIBC_2.34' not found` otherwise). Same answer as `readelf -V` / `objdump -T`,
// without binutils. ELF64 and ELF32, either byte order.
//
//   node scripts/elf-glibc.mjs FILE...   prints "FILE: GLIBC_x.y (n versions)" per file
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const SHT_GNU_VERNEED = 0x6ffffffe

/** The section headers of an ELF file, and readers for the file's words and strings. */
function elf(buf) {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file')
  const is64 = buf[4] === 2
  const le = buf[5] === 1
  const u16 = (o) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o))
  const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const addr = (o) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o))
  const shoff = addr(is64 ? 0x28 : 0x20)
  const shentsize = u16(is64 ? 0x3a : 0x2e)
  const shnum = u16(is64 ? 0x3c : 0x30)
  if (!shoff || !shnum || shoff + shnum * shentsize > buf.length) throw new Error('no section headers')
  const section = (i) => {
    const o = shoff + i * shentsize
    return {
      name: u32(o),
      type: u32(o + 4),
      offset: addr(is64 ? o + 0x18 : o + 0x10),
      size: addr(is64 ? o + 0x20 : o + 0x14),
      link: u32(is64 ? o + 0x28 : o + 0x18),
      info: u32(is64 ? o + 0x2c : o + 0x1c),
    }
  }
  const cstr = (o) => buf.toString('latin1', o, buf.indexOf(0, o))
  const shstrndx = u16(is64 ? 0x3e : 0x32)
  return { u16, u32, cstr, section, shnum, shstrndx }
}

/** The names of the file's sections (.text, .debug_info, ...). */
export function sectionNames(buf) {
  const { cstr, section, shnum, shstrndx } = elf(buf)
  const strtab = section(shstrndx).offset
  return Array.from({ length: shnum }, (_, i) => cstr(strtab + section(i).name))
}

/** The version names (e.g. GLIBC_2.14) the file requires, per library file name. */
export function versionNeeds(buf) {
  const { u16, u32, cstr, section, shnum } = elf(buf)
  const needs = {}
  for (let i = 0; i < shnum; i++) {
    const s = section(i)
    if (s.type !== SHT_GNU_VERNEED) continue
    const strtab = section(s.link).offset
    // sh_info holds the number of Verneed entries; each lists its Vernaux (one per version).
    let vn = s.offset
    for (let n = 0; n < s.info; n++) {
      const cnt = u16(vn + 2)
      const file = cstr(strtab + u32(vn + 4))
      let aux = vn + u32(vn + 8)
      for (let k = 0; k < cnt; k++) {
        needs[file] ??= []
        needs[file].push(cstr(strtab + u32(aux + 8)))
        aux += u32(aux + 12)
      }
      const next = u32(vn + 12)
      if (!next) break
      vn += next
    }
  }
  return needs
}

/** Compares "2.14" and "2.28" numerically. */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d) return d
  }
  return 0
}

/** All GLIBC_x.y versions the file requires (from any library), sorted ascending, without the prefix. */
export function glibcVersions(file) {
  const all = Object.values(versionNeeds(readFileSync(file))).flat()
  const versions = [...new Set(all.filter((v) => /^GLIBC_\d+(\.\d+)*$/.test(v)).map((v) => v.slice(6)))]
  return versions.sort(compareVersions)
}

/** The highest GLIBC_x.y the file requires ("2.14"), or undefined if it needs no glibc version (musl). */
export function maxGlibc(file) {
  return glibcVersions(file).at(-1)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) {
    const v = glibcVersions(file)
    console.log(`${file}: ${v.length ? `GLIBC_${v.at(-1)} (${v.length} versions)` : 'no GLIBC_ versions'}`)
  }
}
