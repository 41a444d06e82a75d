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

/// What a cloned child runs: `f(arg)`, whose result becomes its exit code.
pub type ChildFn = extern "C" fn(*mut libc::c_void) -> libc::c_int;

#[cfg(target_arch = "x86_64")]
/// clone3 with the `struct clone_args` at `args` (`size` bytes). The child starts on the stack
/// those args give it and runs `f(arg)` there, then exit_group with its result: it never returns
/// into this function's frame, which is the parent's (with CLONE_VM, on the parent's stack). The
/// parent gets the kernel's result: the child's pid, `-errno` on failure.
///
/// # Safety
/// `args` must point to `size` readable bytes of a valid `struct clone_args` whose stack is mapped
/// and the child's alone, and `f` must obey `clone::clone_on`'s contract for the flags given.
#[inline(never)]
pub unsafe fn clone3_run(args: usize, size: usize, f: ChildFn, arg: *mut libc::c_void) -> isize {
  let ret: isize;
  // SAFETY: the x86_64 syscall ABI (see syscall6); the kernel keeps every register but rax, rcx
  // and r11 in both processes, so the child finds `f` and `arg` in r12 and r13. The child's rsp
  // is the top of its stack (16-byte aligned, as `call` expects it), it clears rbp so that no
  // frame chain leads into the parent's stack, and it leaves through exit_group (231), never
  // through the end of this block. The parent falls through with the result in rax.
  unsafe {
    std::arch::asm!(
      "syscall",
      "test rax, rax",
      "jnz 2f",
      "xor ebp, ebp",
      "mov rdi, r13",
      "call r12",
      "mov edi, eax",
      "mov eax, 231",
      "syscall",
      "ud2",
      "2:",
      inlateout("rax") libc::SYS_clone3 as isize => ret,
      in("rdi") args, in("rsi") size, in("r12") f, in("r13") arg,
      lateout("rcx") _, lateout("r11") _,
    );
  }
  ret
}

#[cfg(target_arch = "aarch64")]
/// clone3 with the `struct clone_args` at `args` (`size` bytes). The child starts on the stack
/// those args give it and runs `f(arg)` there, then exit_group with its result: it never returns
/// into this function's frame, which is the parent's (with CLONE_VM, on the parent's stack). The
/// parent gets the kernel's result: the child's pid, `-errno` on failure.
///
/// # Safety
/// `args` must point to `size` readable bytes of a valid `struct clone_args` whose stack is mapped
/// and the child's alone, and `f` must obey `clone::clone_on`'s contract for the flags given.
#[inline(never)]
pub unsafe fn clone3_run(args: usize, size: usize, f: ChildFn, arg: *mut libc::c_void) -> isize {
  let ret: isize;
  // SAFETY: the aarch64 syscall ABI (see syscall6); the kernel keeps every register but x0 in
  // both processes, so the child finds `f` and `arg` in x20 and x21. The child's sp is the top of
  // its stack (16-byte aligned), it clears x29 and x30 so that no frame chain leads into the
  // parent's stack, and it leaves through exit_group (94), never through the end of this block.
  // The parent falls through with the result in x0.
  unsafe {
    std::arch::asm!(
      "svc 0",
      "cbnz x0, 2f",
      "mov x29, xzr",
      "mov x30, xzr",
      "mov x0, x21",
      "blr x20",
      "mov x8, #94",
      "svc 0",
      "brk #0",
      "2:",
      in("x8") libc::SYS_clone3, inlateout("x0") args as isize => ret,
      in("x1") size, in("x20") f, in("x21") arg,
    );
  }
  ret
}
