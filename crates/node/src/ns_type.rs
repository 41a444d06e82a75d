//! The namespace types as JS names them: a string enum, so napi refuses any other string and
//! ts/native.d.ts carries the union type. The conversions match every variant both ways, so a
//! type added to nsjs-sys cannot be forgotten here.

use napi_derive::napi;
use nsjs_sys::NsType as Sys;

#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsType {
  Cgroup,
  Ipc,
  Mnt,
  Net,
  Pid,
  Time,
  User,
  Uts,
}

impl From<NsType> for Sys {
  fn from(t: NsType) -> Sys {
    match t {
      NsType::Cgroup => Sys::Cgroup,
      NsType::Ipc => Sys::Ipc,
      NsType::Mnt => Sys::Mnt,
      NsType::Net => Sys::Net,
      NsType::Pid => Sys::Pid,
      NsType::Time => Sys::Time,
      NsType::User => Sys::User,
      NsType::Uts => Sys::Uts,
    }
  }
}

impl From<Sys> for NsType {
  fn from(t: Sys) -> NsType {
    match t {
      Sys::Cgroup => NsType::Cgroup,
      Sys::Ipc => NsType::Ipc,
      Sys::Mnt => NsType::Mnt,
      Sys::Net => NsType::Net,
      Sys::Pid => NsType::Pid,
      Sys::Time => NsType::Time,
      Sys::User => NsType::User,
      Sys::Uts => NsType::Uts,
    }
  }
}

/// The named types, or every type this kernel has.
pub fn type_list(types: Option<Vec<NsType>>) -> Vec<Sys> {
  match types {
    Some(types) => types.into_iter().map(Sys::from).collect(),
    None => Sys::ALL.into_iter().filter(|t| t.supported()).collect(),
  }
}
