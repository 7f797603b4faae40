//! Catching a panicking application, with its message *and* where it happened.
//!
//! Stage: **call app**, **send body** and **finish** — every place the engine runs application
//! code.
//!
//! Interface: [`catch`] runs a closure; a panic inside it comes back as `Err(Panic)` instead of
//! unwinding through the server, so the server can answer 500 and go on to the next request.
//!
//! `std::panic::catch_unwind` alone gives us the panic's message but not its location; only the
//! panic *hook* sees that. So the first call installs a hook that, while [`catch`] is running
//! on this thread, stores the location for us and stays quiet (we log the panic ourselves, in
//! the server's log format); at all other times it hands the panic to the hook that was there
//! before, so panics elsewhere in your program — or in your tests — print as usual.
//!
//! Two limits, said plainly: a program built with `panic = "abort"` cannot catch panics at
//! all (the process ends); and if your program replaces the panic hook after the server
//! starts, panics are still caught but logged without their location.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// True while `catch` runs on this thread.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// The location of the last panic caught on this thread.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL_HOOK: Once = Once::new();

/// A caught panic: what it said and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Panic {
    /// The panic message (`"boom"` for `panic!("boom")`).
    pub(crate) message: String,
    /// `file:line:column`, if the hook saw it.
    pub(crate) location: Option<String>,
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "panicked at {location}: {}", self.message),
            None => write!(f, "panicked: {}", self.message),
        }
    }
}

/// Runs `f`, turning a panic into `Err(Panic)`.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    INSTALL_HOOK.call_once(install_hook);
    let was_catching = CATCHING.with(|c| c.replace(true));
    // AssertUnwindSafe: after a panic we only read the panic itself and the engine's own
    // plain-data state, and we never touch the application's objects again for this request.
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was_catching));
    result.map_err(|payload| Panic {
        message: payload_message(payload.as_ref()),
        location: LOCATION.with(|l| l.borrow_mut().take()),
    })
}

fn install_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        if CATCHING.with(Cell::get) {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LOCATION.with(|l| *l.borrow_mut() = location);
        } else {
            previous(info);
        }
    }));
}

/// The text of a panic payload: `panic!` with a literal gives a `&str`, with arguments a
/// `String`; anything else (`panic_any`) has no text we can show.
fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic value that is not a string)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_location() {
        let caught = catch(|| -> u32 { panic!("boom") }).unwrap_err();
        assert_eq!(caught.message, "boom");
        assert!(caught.location.unwrap().contains("panic.rs:"));
        assert_eq!(catch(|| 7), Ok(7));
    }

    #[test]
    fn formatted_messages_and_nested_catches() {
        let caught = catch(|| -> () { panic!("value was {}", 42) }).unwrap_err();
        assert_eq!(caught.message, "value was 42");
        assert!(caught.to_string().starts_with("panicked at "), "{caught}");
        // A catch inside a catch: the outer one keeps catching afterwards.
        let outer = catch(|| {
            let inner = catch(|| -> () { panic!("inner") });
            assert!(inner.is_err());
            panic!("outer")
        });
        assert_eq!(outer.unwrap_err().message, "outer");
    }

    #[test]
    fn non_string_payload() {
        let caught = catch(|| std::panic::panic_any(17u8)).unwrap_err();
        assert!(caught.message.contains("not a string"));
    }
}
