//! The JS function the main thread's exit watch calls, through the few Node-API functions that
//! takes: it is called from a libuv callback, outside any call from JS, so each call opens its own
//! handle scope and goes through napi_make_callback, which runs process.nextTick callbacks and
//! promise reactions afterwards as Node does after any callback of its own (a plain
//! napi_call_function would leave an `await child.exited` waiting for some later event).
//!
//! The functions are Node's own, resolved from the node executable when the addon loads, as the
//! libuv ones are; only the Node addon (the `libuv` feature) compiles this. A thrown exception
//! becomes an uncaught exception (napi_fatal_exception), as a threadsafe function's would.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::null_mut;

use crate::error::{Error, Result};

type NapiEnv = *mut c_void;
type NapiValue = *mut c_void;
type NapiRef = *mut c_void;
type NapiHandleScope = *mut c_void;
type NapiAsyncContext = *mut c_void;
/// napi_status: napi_ok is 0.
type NapiStatus = c_int;
const NAPI_PENDING_EXCEPTION: NapiStatus = 10;

extern "C" {
  fn napi_create_reference(env: NapiEnv, value: NapiValue, refcount: u32, result: *mut NapiRef)
    -> NapiStatus;
  fn napi_delete_reference(env: NapiEnv, reference: NapiRef) -> NapiStatus;
  fn napi_get_reference_value(env: NapiEnv, reference: NapiRef, result: *mut NapiValue) -> NapiStatus;
  fn napi_open_handle_scope(env: NapiEnv, result: *mut NapiHandleScope) -> NapiStatus;
  fn napi_close_handle_scope(env: NapiEnv, scope: NapiHandleScope) -> NapiStatus;
  fn napi_create_string_utf8(
    env: NapiEnv,
    s: *const c_char,
    len: usize,
    result: *mut NapiValue,
  ) -> NapiStatus;
  fn napi_async_init(
    env: NapiEnv,
    resource: NapiValue,
    name: NapiValue,
    result: *mut NapiAsyncContext,
  ) -> NapiStatus;
  fn napi_async_destroy(env: NapiEnv, context: NapiAsyncContext) -> NapiStatus;
  fn napi_get_global(env: NapiEnv, result: *mut NapiValue) -> NapiStatus;
  fn napi_get_null(env: NapiEnv, result: *mut NapiValue) -> NapiStatus;
  fn napi_create_uint32(env: NapiEnv, value: u32, result: *mut NapiValue) -> NapiStatus;
  fn napi_create_int32(env: NapiEnv, value: i32, result: *mut NapiValue) -> NapiStatus;
  fn napi_create_buffer_copy(
    env: NapiEnv,
    len: usize,
    data: *const c_void,
    result_data: *mut *mut c_void,
    result: *mut NapiValue,
  ) -> NapiStatus;
  fn napi_make_callback(
    env: NapiEnv,
    context: NapiAsyncContext,
    recv: NapiValue,
    func: NapiValue,
    argc: usize,
    argv: *const NapiValue,
    result: *mut NapiValue,
  ) -> NapiStatus;
  fn napi_get_and_clear_last_exception(env: NapiEnv, result: *mut NapiValue) -> NapiStatus;
  fn napi_fatal_exception(env: NapiEnv, err: NapiValue) -> NapiStatus;
  fn napi_add_env_cleanup_hook(
    env: NapiEnv,
    hook: extern "C" fn(*mut c_void),
    arg: *mut c_void,
  ) -> NapiStatus;
}

/// A JS function kept alive (a strong reference) to be called later on its env's thread, with the
/// async context its calls are attributed to (async_hooks see "nsjs:exit").
pub struct JsFunction {
  env: NapiEnv,
  func: NapiRef,
  context: NapiAsyncContext,
}

fn check(status: NapiStatus, what: &'static str) -> Result<()> {
  if status == 0 {
    Ok(())
  } else {
    Err(Error::os(libc::EINVAL, what))
  }
}

impl JsFunction {
  /// `env` and `func` are the napi_env and a function value of a call from JS that is still
  /// running on this thread (`func` is valid only during it), as napi-rs hands them out. Not an
  /// `unsafe fn`, like napi-rs's own `Env::from_raw`: the addon's crate has no `unsafe`, and these
  /// pointers come from napi, not from arithmetic.
  #[allow(clippy::not_unsafe_ptr_arg_deref)]
  pub fn new(env: *mut c_void, func: *mut c_void) -> Result<JsFunction> {
    let mut reference = null_mut();
    let mut name = null_mut();
    let mut context = null_mut();
    let label = "nsjs:exit";
    // SAFETY: `env` and `func` belong to the call from JS that is running (the caller's
    // contract), so the env is entered and `func` is a live handle; the out-pointers are ours.
    unsafe {
      check(napi_create_reference(env, func, 1, &mut reference), "napi_create_reference")?;
      let named = napi_create_string_utf8(env, label.as_ptr().cast(), label.len(), &mut name);
      if named != 0 || napi_async_init(env, null_mut(), name, &mut context) != 0 {
        napi_delete_reference(env, reference);
        return Err(Error::os(libc::EINVAL, "napi_async_init"));
      }
    }
    Ok(JsFunction { env, func: reference, context })
  }

  /// Has `hook` called when the env is torn down, while it can still be used (Node's
  /// cleanup hooks run before its handles are closed and its loop runs for the last time).
  pub(crate) fn at_env_cleanup(&self, hook: extern "C" fn(*mut c_void)) -> Result<()> {
    // SAFETY: on the env's thread while it lives (JsFunction's contract); the hook has the
    // signature Node calls and ignores its (null) argument.
    check(unsafe { napi_add_env_cleanup_hook(self.env, hook, null_mut()) }, "napi_add_env_cleanup_hook")
  }

  /// Calls the function with `args` as Node calls its own callbacks. Only on the env's thread,
  /// from the event loop (not from inside a call from JS), while the env lives.
  pub fn call(&self, args: &[Arg<'_>]) {
    let env = self.env;
    // SAFETY: on the env's own thread while it lives (the caller's contract, kept by the exit
    // watch, which stops at the env's cleanup); every handle made here lives in the scope opened
    // first and closed last; a buffer is copied from a live slice; the exception, if any, is
    // taken out of the env before it is raised as uncaught.
    unsafe {
      let mut scope = null_mut();
      if napi_open_handle_scope(env, &mut scope) != 0 {
        return;
      }
      let (mut func, mut recv) = (null_mut(), null_mut());
      let mut argv: [NapiValue; MAX_ARGS] = [null_mut(); MAX_ARGS];
      let argc = args.len().min(MAX_ARGS);
      let mut ready =
        napi_get_reference_value(env, self.func, &mut func) == 0 && napi_get_global(env, &mut recv) == 0;
      for (arg, to) in args.iter().zip(argv.iter_mut()) {
        ready = ready
          && match *arg {
            Arg::U32(v) => napi_create_uint32(env, v, to),
            Arg::I32(v) => napi_create_int32(env, v, to),
            Arg::Bytes([]) => napi_get_null(env, to),
            Arg::Bytes(b) => napi_create_buffer_copy(env, b.len(), b.as_ptr().cast(), null_mut(), to),
          } == 0;
      }
      if ready {
        let mut result = null_mut();
        let status = napi_make_callback(env, self.context, recv, func, argc, argv.as_ptr(), &mut result);
        if status == NAPI_PENDING_EXCEPTION {
          let mut err = null_mut();
          if napi_get_and_clear_last_exception(env, &mut err) == 0 && !err.is_null() {
            napi_fatal_exception(env, err);
          }
        }
      }
      napi_close_handle_scope(env, scope);
    }
  }
}

/// The most arguments `JsFunction::call` passes.
const MAX_ARGS: usize = 6;

/// An argument of `JsFunction::call`: a number, or bytes passed as a new Buffer (null for none:
/// most commands leave one of stdout and stderr empty, and a Buffer each costs a call into V8).
#[derive(Clone, Copy)]
pub enum Arg<'a> {
  U32(u32),
  I32(i32),
  Bytes(&'a [u8]),
}

impl Drop for JsFunction {
  fn drop(&mut self) {
    // SAFETY: dropped on the env's thread while it lives (in its cleanup hook at the latest).
    unsafe {
      napi_async_destroy(self.env, self.context);
      napi_delete_reference(self.env, self.func);
    }
  }
}
