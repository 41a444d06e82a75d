//! Asynchronous work that must see the calling JS thread's namespaces (its mount table for
//! persisted paths, its hostname for a new uts namespace, ...). A libuv pool thread is no place
//! for it: pool threads stay in the namespaces they were born in, whatever the JS thread did
//! since (`unshare`, `join`, `run`). A native thread that the JS thread starts is born in the
//! JS thread's namespaces and with its root and cwd, so it sees what the synchronous twin sees,
//! and it ends with the work: nothing it does can taint a thread that anyone else uses.

use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::Env;
use nsjs_sys::this_thread;

use crate::error::{self, IntoNapi, Result};

type Settle<R> = Box<dyn FnOnce(Env) -> Result<R> + Send>;

/// Runs `work` on a new native thread started from the calling (JS) thread and returns a Promise
/// that settles on this JS thread: with `to_js` of the result, or with the error (built there,
/// since a JS error object can only be made on the JS thread).
pub fn promise<'env, T, R>(
  env: &'env Env,
  name: &str,
  work: impl FnOnce() -> nsjs_sys::Result<T> + Send + 'static,
  to_js: impl FnOnce(Env, T) -> Result<R> + Send + 'static,
) -> Result<Object<'env>>
where
  T: Send + 'static,
  R: ToNapiValue + 'static,
{
  let (deferred, promise) = env.create_deferred::<R, Settle<R>>()?;
  this_thread::spawn_from_here(name, move || match work() {
    Ok(v) => deferred.resolve(Box::new(move |env| to_js(env, v))),
    Err(e) => deferred.resolve(Box::new(move |env| Err(error::to_js(&env, e)))),
  })
  .napi(env)?;
  Ok(promise)
}
