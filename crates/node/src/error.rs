//! Native errors cross into JS as one `Error` whose message is `NSJS:` followed by a JSON record
//! of the facts; the TypeScript layer turns that record into a `NamespaceError` and writes the
//! message, so the wording lives in one place.

use nsjs_sys::Error;

fn json_str(s: &str) -> String {
  let mut out = String::with_capacity(s.len() + 2);
  out.push('"');
  for c in s.chars() {
    match c {
      '"' => out.push_str("\\\""),
      '\\' => out.push_str("\\\\"),
      c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
      c => out.push(c),
    }
  }
  out.push('"');
  out
}

pub const PREFIX: &str = "NSJS:";

pub fn to_napi(e: Error) -> napi::Error {
  let mut fields = vec![
    format!("\"code\":{}", json_str(&e.code())),
    format!("\"errno\":{}", e.errno),
    format!("\"syscall\":{}", json_str(e.syscall)),
  ];
  if let Some(t) = e.ns_type {
    fields.push(format!("\"nsType\":{}", json_str(t.name())));
  }
  if let Some(t) = e.expected {
    fields.push(format!("\"expected\":{}", json_str(t.name())));
  }
  if let Some(p) = &e.path {
    fields.push(format!("\"path\":{}", json_str(p)));
  }
  if let Some(p) = e.pid {
    fields.push(format!("\"pid\":{p}"));
  }
  if let Some(p) = e.tgid {
    fields.push(format!("\"tgid\":{p}"));
  }
  if let Some(s) = e.step {
    fields.push(format!("\"step\":{}", json_str(s.name())));
  }
  napi::Error::new(napi::Status::GenericFailure, format!("{PREFIX}{{{}}}", fields.join(",")))
}

pub type Result<T> = napi::Result<T>;

pub trait IntoNapi<T> {
  fn napi(self) -> Result<T>;
}

impl<T> IntoNapi<T> for nsjs_sys::Result<T> {
  fn napi(self) -> Result<T> {
    self.map_err(to_napi)
  }
}
