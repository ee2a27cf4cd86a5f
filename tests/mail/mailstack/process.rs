//! Processes, ports and files of the stack's daemons.

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::START_TIMEOUT;

/// The `vmail` user's uid and gid, creating the user when missing.
pub fn vmail_ids() -> Result<(u32, u32), String> {
    static ONCE: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").arg(flag).arg("vmail").output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        if id("-u").is_none() {
            // Exit status 9: created meanwhile by someone else, which is fine.
            let _ = Command::new("useradd")
                .args([
                    "-r",
                    "-U",
                    "-M",
                    "-d",
                    "/nonexistent",
                    "-s",
                    "/usr/sbin/nologin",
                    "vmail",
                ])
                .status();
        }
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok((uid, gid)),
            _ => Err("no `vmail` user and `useradd` could not create it".into()),
        }
    })
    .clone()
}

/// A port free now and not handed out before in this process.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if given.lock().unwrap_or_else(|p| p.into_inner()).insert(port) {
            return port;
        }
    }
}

pub fn wait_open(ports: &[u16]) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    for &port in ports {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() >= deadline {
                return Err(format!("port {port} did not open within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

pub fn wait_closed(port: u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a daemon we asked to stop; SIGKILL after 10 s.
pub fn wait_or_kill(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Ends what is left of process group `group`: SIGTERM, a few seconds to
/// go, then SIGKILL.
pub fn end_group(group: i32) {
    // SAFETY: kill(2) with plain integers, on a group the harness created.
    let signal = |sig| unsafe { libc::kill(-group, sig) == 0 };
    if !signal(libc::SIGTERM) {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        // Signal 0 only asks whether any member is left.
        if !signal(0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(libc::SIGKILL);
}

pub fn chown(path: &Path, (uid, gid): (u32, u32)) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(err)
}

pub fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}
