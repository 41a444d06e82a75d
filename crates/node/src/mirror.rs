//! The enums of nsjs-sys that JS sees by name, as napi string enums, so napi refuses any other
//! string and ts/native.d.ts carries their union types. Each is generated from nsjs-sys's own
//! table (`with_ns_types!`, `with_steps!`, `with_rules!`), so a variant or a name is written once,
//! there.

use napi_derive::napi;

/// `$js` of `$sys`, from the rows of one of nsjs-sys's `with_*!` tables: the string enum (each
/// variant's JS name is the table's), `From` both ways. Extra columns of a row are not JS's.
macro_rules! mirror {
  (
    $(#[$doc:meta])* $js:ident of $sys:path;
    $($(#[$row:meta])* $variant:ident = $name:literal $(, $column:ident: $value:expr)*;)*
  ) => {
    $(#[$doc])*
    #[napi(string_enum)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum $js {
      $(#[napi(value = $name)] $variant,)*
    }

    impl From<$js> for $sys {
      fn from(v: $js) -> $sys {
        match v {
          $($js::$variant => <$sys>::$variant,)*
        }
      }
    }

    impl From<$sys> for $js {
      fn from(v: $sys) -> $js {
        match v {
          $(<$sys>::$variant => $js::$variant,)*
        }
      }
    }
  };
}

// Plain strings, not `///`: napi copies a raw string's r"..." into the d.ts verbatim.
nsjs_sys::with_ns_types!(mirror {
  #[doc = "A namespace type, by the name /proc/<pid>/ns/ gives it."]
  NsType of nsjs_sys::NsType
});

nsjs_sys::with_steps!(mirror {
  #[doc = "Where a spawn (or a thread's restore) failed: `NamespaceError.step`."]
  Step of nsjs_sys::Step
});

nsjs_sys::with_rules!(mirror {
  #[doc = "A rule the library enforces itself: `NamespaceError.code` where there is no errno."]
  RuleCode of nsjs_sys::error::Rule
});

/// The named types, or every type this kernel has.
pub fn type_list(types: Option<Vec<NsType>>) -> Vec<nsjs_sys::NsType> {
  match types {
    Some(types) => types.into_iter().map(nsjs_sys::NsType::from).collect(),
    None => nsjs_sys::NsType::ALL.into_iter().filter(|t| t.supported()).collect(),
  }
}
