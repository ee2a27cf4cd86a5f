//! CPU time and peak memory as the kernel's `rusage` reports them, shared by
//! the benches: CPU rather than wall time, because the machine is shared and
//! CPU is what a busy intake desk pays for.

use std::time::Duration;

/// CPU time (user + system) and peak resident memory.
#[derive(Clone, Copy)]
pub struct Usage {
    pub cpu: Duration,
    pub max_rss_kb: i64,
}

impl Usage {
    pub fn of(ru: &libc::rusage) -> Usage {
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        Usage {
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            max_rss_kb: ru.ru_maxrss,
        }
    }
}
