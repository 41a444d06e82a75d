//! The syscall instruction itself, for code that runs in a CLONE_VM child before execve. Such a
//! child shares the parent's memory and TLS, so it must not touch `errno` (the parent thread's),
//! allocate or lock; these return `-errno` instead of setting it.

#[cfg(target_arch = "x86_64")]
/// System call `nr` with six arguments; the kernel's result, `-errno` on failure.
///
/// # Safety
/// The arguments must be valid for `nr` (pointers to memory of the sizes it reads and writes).
#[inline(always)]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
  let ret: isize;
  // SAFETY: the x86_64 syscall ABI: number in rax, args in rdi rsi rdx r10 r8 r9; the kernel
  // clobbers rcx and r11. The caller guarantees the arguments are valid for `nr`.
  unsafe {
    std::arch::asm!("syscall",
      inlateout("rax") nr as isize => ret,
      in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
      lateout("rcx") _, lateout("r11") _,
      options(nostack));
  }
  ret
}

#[cfg(target_arch = "aarch64")]
/// System call `nr` with six arguments; the kernel's result, `-errno` on failure.
///
/// # Safety
/// The arguments must be valid for `nr` (pointers to memory of the sizes it reads and writes).
#[inline(always)]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
  let ret: isize;
  // SAFETY: the aarch64 syscall ABI: number in x8, args in x0..x5, result in x0. The caller
  // guarantees the arguments are valid for `nr`.
  unsafe {
    std::arch::asm!("svc 0",
      in("x8") nr,
      inlateout("x0") a[0] as isize => ret,
      in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
      options(nostack));
  }
  ret
}

/// Shorthand for calls with fewer than six arguments.
///
/// # Safety
/// As for `syscall6`; at most six arguments.
#[inline(always)]
pub unsafe fn call(nr: libc::c_long, args: &[usize]) -> isize {
  let mut a = [0usize; 6];
  a[..args.len()].copy_from_slice(args);
  // SAFETY: forwarded; the caller guarantees the arguments are valid for `nr`.
  unsafe { syscall6(nr, a) }
}
