//! SIGINT (Ctrl-C) and SIGTERM (how CI runners cancel a job). The driver hears them through a
//! [`StopSource`] while it waits for the next poll — the process's signals in production
//! ([`OsSignals`]), a script in tests — and puts traffic back. The restore watches them through
//! [`Interrupts`] and stops after the current write.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// A request from outside the process to stop the deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    /// Why the driver rolls back, as the failure's observation.
    pub fn reason(self) -> &'static str {
        match self {
            Stop::Interrupt => "interrupted (SIGINT): putting traffic back",
            Stop::Terminate => "terminated (SIGTERM): putting traffic back",
        }
    }
}

/// Where the driver hears a [`Stop`] while it waits for the next poll.
pub trait StopSource: Send {
    /// Resolves at the next stop request (never, if none can come). Cancel-safe: the driver
    /// drops it when the poll comes first, and asks again at the next wait.
    fn next(&mut self) -> impl Future<Output = Stop> + Send;

    /// What a restore watches while it puts production traffic back.
    fn during_restore(&self) -> Interrupts;
}

/// The process's SIGINT and SIGTERM.
pub struct OsSignals {
    /// `None` once it fired: a second wait never polls a finished future.
    interrupt: Option<Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>>,
    /// `None` if the handler could not be installed: SIGTERM is then never heard here.
    terminate: Option<Signal>,
}

impl OsSignals {
    /// Starts listening for SIGTERM now, for SIGINT at the first wait.
    pub fn watch() -> OsSignals {
        OsSignals {
            interrupt: Some(Box::pin(tokio::signal::ctrl_c())),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }
}

impl StopSource for OsSignals {
    async fn next(&mut self) -> Stop {
        let interrupted = async {
            match &mut self.interrupt {
                Some(f) => {
                    let _ = f.await;
                }
                None => std::future::pending().await,
            }
        };
        let terminated = async {
            match &mut self.terminate {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        let stop = tokio::select! {
            _ = interrupted => Stop::Interrupt,
            _ = terminated => Stop::Terminate,
        };
        if stop == Stop::Interrupt {
            self.interrupt = None;
        }
        stop
    }

    fn during_restore(&self) -> Interrupts {
        Interrupts::watch()
    }
}

/// SIGINT/SIGTERM while production traffic is being put back: the first is honoured after
/// the current write; the second exits at once with ROLLBACK_FAILED, saying so on stderr.
pub struct Interrupts {
    seen: Arc<AtomicUsize>,
    first: Arc<std::sync::Mutex<Option<String>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Interrupts {
    /// Starts listening (ends when dropped).
    pub fn watch() -> Interrupts {
        let seen = Arc::new(AtomicUsize::new(0));
        let first = Arc::new(std::sync::Mutex::new(None));
        let (s, f) = (seen.clone(), first.clone());
        let task = tokio::spawn(async move {
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                let name = tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                };
                if s.fetch_add(1, Ordering::SeqCst) == 0 {
                    *f.lock().expect("signal state") = Some(name.to_string());
                    eprintln!(
                        "bluegreen: {name} while putting production traffic back: stopping after \
                         the current write (a second signal exits at once)"
                    );
                } else {
                    eprintln!(
                        "bluegreen: second signal ({name}) while putting production traffic back: \
                         exiting NOW. The production routes may be partly restored; check them \
                         with `bluegreen status` and finish with `bluegreen rollback`"
                    );
                    std::process::exit(crate::exit::ROLLBACK_FAILED);
                }
            }
        });
        Interrupts {
            seen,
            first,
            task: Some(task),
        }
    }

    /// Never interrupted (tests).
    #[cfg(test)]
    pub fn none() -> Interrupts {
        Interrupts {
            seen: Arc::new(AtomicUsize::new(0)),
            first: Arc::new(std::sync::Mutex::new(None)),
            task: None,
        }
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<String> {
        if self.seen.load(Ordering::SeqCst) == 0 {
            return None;
        }
        self.first.lock().expect("signal state").clone()
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
