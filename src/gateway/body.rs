//! The response body an application returns: WSGI's "iterable of bytes", and its file variant.
//!
//! Stage: made by **call app**, consumed by **send body**.
//!
//! Interface:
//! * Small, complete bodies: `Body::from("text")`, `Body::from(vec_of_bytes)`, `Body::empty()`.
//!   Their length is known, so the server sends `Content-Length` for you.
//! * Streamed bodies: [`Body::from_chunks`] takes any iterator of byte chunks and sends each as
//!   it is produced; [`Body::from_fallible_chunks`] lets a chunk be an error, which cuts the
//!   response short (and becomes a 500 if nothing was sent yet).
//! * Files: [`Body::file`] (the counterpart of `wsgi.file_wrapper`) sends the rest of a file
//!   with its `Content-Length`, in blocks; [`Body::from_reader`] streams any other reader.
//!   Either way the first block is read before the headers go out, so a file that cannot be
//!   read still gets a clean 500.
//! * Middleware: [`Body::inspect`] sees every byte as it goes out (to count or hash them),
//!   [`Body::map_chunks`] changes them, and [`Body::map_kind`] takes the body apart to rebuild
//!   it any other way. All three keep the body's clean-up.
//! * Clean-up: WSGI calls the iterable's `close()` when the response is over, however it ended.
//!   In Rust that is `Drop`: the server drops the body when it is done with it, on success and
//!   on error, so a file closes and an iterator's own `Drop` runs. For clean-up that is not tied
//!   to a value, [`Body::on_close`] registers a closure that runs at the same moment.

use std::fmt;
use std::fs::File;
use std::io::Read;

use super::AppError;

/// What an application returns as the response body.
///
/// ```
/// use rgiref::gateway::Body;
/// assert_eq!(Body::from("Hello").length(), Some(5));
/// assert_eq!(Body::from_chunks(vec!["Hel", "lo"]).length(), None);
/// ```
pub struct Body {
    // The engine matches on `kind` to send each shape its own way.
    pub(crate) kind: BodyKind,
    on_close: Vec<Box<dyn FnOnce()>>,
}

/// The shapes a body can take; the engine sends each its own way. [`Body::map_kind`] hands it
/// to a middleware to rebuild.
pub enum BodyKind {
    /// All the bytes, in memory: sent in one write, with `Content-Length`.
    Bytes(Vec<u8>),
    /// Chunks produced one by one, each sent (and flushed) as it comes. If the iterator's
    /// `size_hint` promises nothing after a chunk, that chunk's length is the `Content-Length`.
    Chunks(Box<dyn Iterator<Item = Result<Vec<u8>, AppError>>>),
    /// A reader (a file, too), copied in blocks until it ends.
    Reader {
        /// Where the bytes come from.
        reader: Box<dyn Read>,
        /// Its length, if known: sent as `Content-Length`, and held to.
        length: Option<u64>,
    },
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Body {
        Body::from_kind(BodyKind::Bytes(Vec::new()))
    }

    /// A body sent chunk by chunk as `chunks` produces them. Each item may be anything that
    /// becomes bytes: `&str`, `String`, `&[u8]`, `Vec<u8>`.
    ///
    /// If the iterator knows it yields exactly one chunk (its `size_hint` says so, as a
    /// one-element `Vec` does), the server sends a `Content-Length` — the same rule as
    /// wsgiref's "a list of one block".
    ///
    /// ```
    /// use rgiref::gateway::Body;
    /// let lines = (1..=3).map(|n| format!("line {n}\n"));
    /// let body = Body::from_chunks(lines);
    /// # drop(body);
    /// ```
    pub fn from_chunks<I>(chunks: I) -> Body
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: Into<Vec<u8>>,
    {
        let chunks = chunks.into_iter().map(|chunk| Ok(chunk.into()));
        Body::from_kind(BodyKind::Chunks(Box::new(chunks)))
    }

    /// Like [`Body::from_chunks`], but a chunk may be an error. An error before any byte was
    /// sent becomes a 500; after that it ends the response early (and is logged).
    ///
    /// ```
    /// use rgiref::gateway::Body;
    /// let rows: Vec<Result<String, std::io::Error>> = vec![Ok("a\n".into()), Ok("b\n".into())];
    /// let body = Body::from_fallible_chunks(rows);
    /// # drop(body);
    /// ```
    pub fn from_fallible_chunks<I, T, E>(chunks: I) -> Body
    where
        I: IntoIterator<Item = Result<T, E>>,
        I::IntoIter: 'static,
        T: Into<Vec<u8>>,
        E: Into<AppError>,
    {
        let chunks = chunks
            .into_iter()
            .map(|chunk| chunk.map(Into::into).map_err(Into::into));
        Body::from_kind(BodyKind::Chunks(Box::new(chunks)))
    }

    /// A body streamed from `reader`; give its `length` if you know it, for `Content-Length`.
    ///
    /// ```
    /// use rgiref::gateway::Body;
    /// let body = Body::from_reader(std::io::repeat(b'x').take(1000), Some(1000));
    /// assert_eq!(body.length(), Some(1000));
    /// # use std::io::Read;
    /// ```
    pub fn from_reader(reader: impl Read + 'static, length: Option<u64>) -> Body {
        Body::from_kind(BodyKind::Reader {
            reader: Box::new(reader),
            length,
        })
    }

    /// The rest of `file`, from its current position to its end, sent with `Content-Length`.
    /// This is the counterpart of `wsgi.file_wrapper`: the server knows the length before it
    /// starts (so the client gets `Content-Length`) and copies the file in large blocks, in
    /// constant memory however big the file. Fails only if the file's size or position cannot
    /// be read.
    ///
    /// (Production servers go one step further and hand the copy to the kernel with
    /// `sendfile(2)`, so the bytes never enter the process. std does not do that for sockets —
    /// a file changed while its pages wait in the socket's buffer would send the changed bytes —
    /// and this crate has no `unsafe` to call it directly.)
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rgiref::gateway::Body;
    /// let body = Body::file(std::fs::File::open("Cargo.toml")?)?;
    /// assert!(body.length().unwrap() > 0);
    /// # Ok(()) }
    /// ```
    pub fn file(mut file: File) -> std::io::Result<Body> {
        use std::io::Seek;
        let size = file.metadata()?.len();
        let position = file.stream_position()?;
        let length = size.saturating_sub(position);
        Ok(Body::from_reader(file.take(length), Some(length)))
    }

    /// Registers `clean_up` to run when the server is done with this body, however the response
    /// ended (WSGI's `close()`). Several registrations run in order.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::cell::Cell;
    /// use rgiref::gateway::Body;
    /// let closed = Rc::new(Cell::new(false));
    /// let flag = Rc::clone(&closed);
    /// let body = Body::from("bye").on_close(move || flag.set(true));
    /// drop(body); // the server does this when the response is over
    /// assert!(closed.get());
    /// ```
    pub fn on_close(mut self, clean_up: impl FnOnce() + 'static) -> Body {
        self.on_close.push(Box::new(clean_up));
        self
    }

    /// The body's length in bytes, if known before sending it.
    pub fn length(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Bytes(bytes) => Some(bytes.len() as u64),
            BodyKind::Chunks(_) => None,
            BodyKind::Reader { length, .. } => *length,
        }
    }

    /// A body of the given shape, with no clean-up of its own.
    pub fn from_kind(kind: BodyKind) -> Body {
        Body {
            kind,
            on_close: Vec::new(),
        }
    }

    /// Takes the body apart and rebuilds it with `rebuild`; the clean-up registered with
    /// [`Body::on_close`] stays with the new body. The general tool for middleware:
    ///
    /// ```
    /// use rgiref::gateway::{Body, BodyKind};
    /// // Upper-cases a body held in memory; leaves streamed bodies alone.
    /// let body = Body::from("shout").map_kind(|kind| match kind {
    ///     BodyKind::Bytes(bytes) => BodyKind::Bytes(bytes.to_ascii_uppercase()),
    ///     other => other,
    /// });
    /// assert_eq!(body.length(), Some(5));
    /// ```
    pub fn map_kind(mut self, rebuild: impl FnOnce(BodyKind) -> BodyKind) -> Body {
        // `Body` has a `Drop`, so its fields cannot be moved out: swap an empty kind in instead.
        let kind = std::mem::replace(&mut self.kind, BodyKind::Bytes(Vec::new()));
        self.kind = rebuild(kind);
        self
    }

    /// Calls `watch` with every piece of the body as the engine takes it to send, without
    /// changing a byte or the body's length: for a middleware that counts or hashes what goes
    /// out.
    ///
    /// ```
    /// use std::{cell::Cell, io::Read, rc::Rc};
    /// use rgiref::gateway::{Body, BodyKind};
    /// let counted = Rc::new(Cell::new(0));
    /// let counter = Rc::clone(&counted);
    /// let body = Body::from("twelve bytes").inspect(move |piece| counter.set(counter.get() + piece.len()));
    /// assert_eq!(body.length(), Some(12)); // still known, so Content-Length is still sent
    /// // Read the body as the engine would (here through map_kind), and `watch` sees it all:
    /// let _ = body.map_kind(|kind| {
    ///     if let BodyKind::Reader { mut reader, .. } = kind {
    ///         reader.read_to_end(&mut Vec::new()).unwrap();
    ///     }
    ///     BodyKind::Bytes(Vec::new())
    /// });
    /// assert_eq!(counted.get(), 12);
    /// ```
    pub fn inspect(self, watch: impl FnMut(&[u8]) + 'static) -> Body {
        self.map_kind(|kind| match kind {
            // Bytes become a reader of known length, so `watch` runs as they are sent.
            BodyKind::Bytes(bytes) => BodyKind::Reader {
                length: Some(bytes.len() as u64),
                reader: Box::new(Inspect {
                    inner: std::io::Cursor::new(bytes),
                    watch,
                }),
            },
            BodyKind::Chunks(chunks) => {
                let mut watch = watch;
                BodyKind::Chunks(Box::new(chunks.inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        watch(bytes);
                    }
                })))
            }
            BodyKind::Reader { reader, length } => BodyKind::Reader {
                reader: Box::new(Inspect {
                    inner: reader,
                    watch,
                }),
                length,
            },
        })
    }

    /// Replaces each piece of the body with `change(piece)`, as it is sent. The length is no
    /// longer known in advance (a one-piece body still gets its `Content-Length`, measured
    /// after the change), and a reader is read in blocks of 64 KiB, each one piece.
    ///
    /// ```
    /// use rgiref::gateway::Body;
    /// let body = Body::from_chunks(["a", "b"]).map_chunks(|mut piece| { piece.push(b'!'); piece });
    /// assert_eq!(body.length(), None);
    /// ```
    pub fn map_chunks(self, change: impl FnMut(Vec<u8>) -> Vec<u8> + 'static) -> Body {
        self.map_kind(|kind| {
            let chunks: Box<dyn Iterator<Item = Result<Vec<u8>, AppError>>> = match kind {
                BodyKind::Bytes(bytes) => Box::new(std::iter::once(Ok(bytes))),
                BodyKind::Chunks(chunks) => chunks,
                BodyKind::Reader { reader, .. } => Box::new(ReaderChunks(reader)),
            };
            let mut change = change;
            BodyKind::Chunks(Box::new(chunks.map(move |chunk| chunk.map(&mut change))))
        })
    }
}

/// A reader that shows `watch` each piece it hands out ([`Body::inspect`]).
struct Inspect<R, F> {
    inner: R,
    watch: F,
}

impl<R: Read, F: FnMut(&[u8])> Read for Inspect<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            (self.watch)(&buf[..n]);
        }
        Ok(n)
    }
}

/// A reader as an iterator of 64 KiB blocks ([`Body::map_chunks`]); a read error ends it.
struct ReaderChunks(Box<dyn Read>);

impl Iterator for ReaderChunks {
    type Item = Result<Vec<u8>, AppError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut block = vec![0; 64 * 1024];
        loop {
            return match self.0.read(&mut block) {
                Ok(0) => None,
                Ok(n) => {
                    block.truncate(n);
                    Some(Ok(block))
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => Some(Err(error.into())),
            };
        }
    }
}

impl Drop for Body {
    /// Runs the `on_close` hooks, every one of them even if one panics: a hook that releases a
    /// lock must not be skipped because the hook before it failed. The first panic is raised
    /// again afterwards, so the server can log it — unless we are already unwinding from
    /// another panic, when a second one would abort the process.
    fn drop(&mut self) {
        let mut first_panic = None;
        for clean_up in self.on_close.drain(..) {
            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(clean_up)) {
                first_panic.get_or_insert(panic);
            }
        }
        if let Some(panic) = first_panic {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::from_kind(BodyKind::Bytes(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::from(text.into_bytes())
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Body {
        Body::from(text.as_bytes().to_vec())
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Body {
        Body::from(bytes.to_vec())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            BodyKind::Bytes(_) => "bytes",
            BodyKind::Chunks(_) => "chunks",
            BodyKind::Reader { .. } => "reader",
        };
        write!(f, "Body {{ kind: {kind}, length: {:?} }}", self.length())
    }
}
