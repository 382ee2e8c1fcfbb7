//! Waiting for a termination signal on a small thread of its own, for the commands
//! that run blocking loops (the TUI, the probe agent) rather than a tokio runtime.

use tokio::signal::unix::{SignalKind, signal};

/// Calls `then` once, on the first of signals `a` or `b`. If the handlers cannot be
/// installed the signals keep their default action (the process ends).
pub fn on_either(a: SignalKind, b: SignalKind, then: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let (Ok(mut first), Ok(mut second)) = (signal(a), signal(b)) else {
                    return;
                };
                tokio::select! {
                    _ = first.recv() => {}
                    _ = second.recv() => {}
                }
                then();
            });
        });
}
