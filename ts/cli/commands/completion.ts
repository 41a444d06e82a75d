// nsjs completion bash|zsh: a completion script made from the commands' own option tables, so
// it offers exactly what the parser takes.
import { NAMESPACE_TYPES } from '../../index'
import { type Options, UsageError } from '../args'
import { out } from '../format'
import { help } from '../help'
import { EXEC_OPTIONS } from './exec'
import { ID_OPTIONS } from './id'
import { LS_COLUMNS, LS_OPTIONS } from './ls'
import { RUN_OPTIONS } from './run'

/** Each command's options; create and delete take none but --help. */
export const COMMAND_OPTIONS: Record<string, Options> = {
  ls: LS_OPTIONS,
  exec: EXEC_OPTIONS,
  run: RUN_OPTIONS,
  create: {},
  delete: {},
  id: ID_OPTIONS,
  netns: {},
  completion: {},
}

/** The words a command's options are typed as: `--long` (and `--long=` for a value), `-s`. */
export function optionWords(options: Options): string[] {
  const words = ['--help', '-h']
  for (const [name, o] of Object.entries(options)) {
    // x-NAME is the parser's spelling of --NAME=VALUE: offered as that.
    const long = name.startsWith('x-') ? `--${name.slice(2)}=` : `--${name}`
    if (!words.includes(long)) words.push(long)
    if (o.short) words.push(`-${o.short}`)
  }
  return words
}

function bash(): string {
  const cases = Object.entries(COMMAND_OPTIONS)
    .map(([cmd, options]) => `    ${cmd}) words="${optionWords(options).join(' ')}" ;;`)
    .join('\n')
  return `# bash completion for nsjs (nsjs completion bash); generated from nsjs's option tables.
_nsjs() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} words
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${Object.keys(COMMAND_OPTIONS).join(' ')} help --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
    -t|--type|-s|--unshare) COMPREPLY=($(compgen -W "${[...NAMESPACE_TYPES].join(' ')}" -- "$cur")); return ;;
    -o|--output) COMPREPLY=($(compgen -W "${Object.keys(LS_COLUMNS).join(' ')}" -- "$cur")); return ;;
    --setgroups) COMPREPLY=($(compgen -W "allow deny" -- "$cur")); return ;;
    --propagation) COMPREPLY=($(compgen -W "private shared slave unchanged" -- "$cur")); return ;;
  esac
  [ "\${COMP_WORDS[1]}" = completion ] && { COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return; }
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    [[ "\${COMPREPLY[0]}" == *= ]] && compopt -o nospace 2>/dev/null
  else
    COMPREPLY=($(compgen -c -f -- "$cur"))
  fi
}
complete -F _nsjs nsjs
`
}

/** `nsjs completion bash|zsh`: prints the script to source (zsh runs the bash one). */
export async function cmdCompletion(args: string[]): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') return help('completion')
  if (args.length !== 1 || !['bash', 'zsh'].includes(args[0]))
    throw new UsageError('completion takes one shell: bash or zsh', 'completion')
  if (args[0] === 'zsh') out('autoload -U +X bashcompinit && bashcompinit')
  process.stdout.write(bash())
  return 0
}
