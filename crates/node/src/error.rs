//! How a native failure crosses into JS: as one `Error` object, built here and nowhere else, on
//! the JS thread (it needs an `Env`), whose properties are the facts. ts/errors.ts `fromNative`
//! recognises it by its `name` and turns it into a `NamespaceError` with the message written
//! there, so the wording and the errno names (Node's `util.getSystemErrorName`) live in TS.
//!
//! Its properties: `errno` (positive, as the kernel gives it; 0 for a rule), `code` (only for a
//! rule the library enforces, `ERR_NS_*`), `syscall`, and where known `step`, `nsType`,
//! `expected`, `path`, `pid`, `tgid`, `mountIndex`.

use napi::bindgen_prelude::{JsObjectValue, JsValue, Object};
use napi::Env;
use nsjs_sys::Error;

use crate::mirror::{NsType, RuleCode, Step};

/// The `name` of the errors built here: the mark `fromNative` looks for.
pub const NAME: &str = "NativeNamespaceError";

pub type Result<T> = napi::Result<T>;

/// The error to return (and so throw or reject with) for `e`.
pub fn to_js(env: &Env, e: Error) -> napi::Error {
  match object(env, &e) {
    Ok(o) => napi::Error::from(o.to_unknown()),
    Err(failed) => failed,
  }
}

fn object<'env>(env: &'env Env, e: &Error) -> Result<Object<'env>> {
  let mut o = env.create_error(napi::Error::from_reason(e.to_string()))?;
  o.set_named_property("name", NAME)?;
  // napi_create_error sets `code` to the napi status; only a rule has a code of its own.
  match e.rule {
    Some(rule) => o.set_named_property("code", RuleCode::from(rule))?,
    None => o.delete_named_property("code").map(drop)?,
  }
  o.set_named_property("errno", e.errno)?;
  o.set_named_property("syscall", e.syscall)?;
  if let Some(step) = e.step {
    o.set_named_property("step", Step::from(step))?;
  }
  if let Some(t) = e.ns_type {
    o.set_named_property("nsType", NsType::from(t))?;
  }
  if let Some(t) = e.expected {
    o.set_named_property("expected", NsType::from(t))?;
  }
  if let Some(path) = &e.path {
    o.set_named_property("path", path.as_str())?;
  }
  if let Some(pid) = e.pid {
    o.set_named_property("pid", pid)?;
  }
  if let Some(tgid) = e.tgid {
    o.set_named_property("tgid", tgid)?;
  }
  if let Some(i) = e.mount_index {
    o.set_named_property("mountIndex", i)?;
  }
  Ok(o)
}

/// `.napi(&env)` on a `nsjs_sys::Result`: its error as the JS error above.
pub trait IntoNapi<T> {
  fn napi(self, env: &Env) -> Result<T>;
}

impl<T> IntoNapi<T> for nsjs_sys::Result<T> {
  fn napi(self, env: &Env) -> Result<T> {
    self.map_err(|e| to_js(env, e))
  }
}
