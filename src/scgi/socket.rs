//! The Unix socket file an SCGI server makes, and removes again.
//!
//! Stage: **accept** (binding, before it).
//!
//! Interface: [`UnixSocketFile`] binds a Unix socket file, replacing a stale one only if it is
//! a socket nobody answers on, sets its mode, and removes the file again when dropped. The
//! listener and its connections are `crate::net`'s TCP-or-Unix `Listener` and `Stream`, which
//! all three servers share.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A Unix socket file this server created, so that it can remove it again — and only it.
pub(crate) struct UnixSocketFile {
    path: PathBuf,
    /// The file's device and inode when we made it: if someone has since put another file at
    /// the path (a second server, started after us), dropping ours must not remove theirs.
    id: (u64, u64),
}

impl UnixSocketFile {
    /// Listens on a Unix socket at `path` with permissions `mode`.
    ///
    /// A file already at `path` is removed only if it is a socket that nobody answers on — the
    /// leftover of a server that was killed (lighttpd and systemd stop servers with SIGTERM,
    /// which std cannot catch, so no clean-up ran). Anything else is an error: a regular file
    /// is someone's data, and a live socket is another server's.
    ///
    /// The socket file is created with the permissions the process's umask allows (usually
    /// 0755, which lets only its owner connect, since connecting needs write permission), then
    /// set to `mode`. Between the two there is a moment with the umask's permissions: std
    /// cannot change the umask without `unsafe`. Put the socket in a directory only the right
    /// users can enter (`/run/<app>/`), which is the real protection anyway.
    ///
    /// A relative `path` is made absolute first, so that the address the banner shows can be
    /// pasted into a web server's configuration, and the clean-up finds the file even if the
    /// working directory changes.
    pub(crate) fn bind(path: &Path, mode: u32) -> io::Result<(UnixListener, UnixSocketFile)> {
        let path = std::path::absolute(path)?;
        remove_stale_socket(&path)?;
        let listener = UnixListener::bind(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
        let metadata = fs::symlink_metadata(&path)?;
        let file = UnixSocketFile {
            path,
            id: (metadata.dev(), metadata.ino()),
        };
        Ok((listener, file))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path)
            .is_ok_and(|metadata| (metadata.dev(), metadata.ino()) == self.id);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Removes a stale socket file at `path`. See [`UnixSocketFile::bind`].
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let shown = path.display();
    if !metadata.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{shown} exists and is not a socket; not removing it"),
        ));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another server is listening on {shown}"),
        ));
    }
    fs::remove_file(path)
}
