//! A thread with its own current-thread tokio runtime: where the node's
//! WAMP client sessions (the uplink, the management backend) run, beside
//! the router's cores and never on them.

use std::future::Future;

/// Runs the future `task` makes on a new thread named `name`.
pub(crate) fn spawn<F>(name: &str, task: impl FnOnce() -> F + Send + 'static) -> std::io::Result<()>
where
    F: Future<Output = ()> + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || runtime.block_on(task()))
        .map(drop)
}
