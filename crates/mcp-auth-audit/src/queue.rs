//! The bounded queue between requests and sinks, and the writer thread behind it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use opentelemetry::metrics::{ObservableCounter, ObservableGauge};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Receiver, Sender, channel};

use crate::event::{AuditEvent, Observed, dropped_event, events};
use crate::sink::AuditSink;
use mcp_auth_core::record::Record;

/// What happens when events arrive faster than the sinks write them and the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// A request that reached your service waits for room before its response ends: none of
    /// its events is lost. The wait is asynchronous (the task waits, the runtime's thread serves
    /// other requests meanwhile). Requests mcp-auth answered itself (denials, the metadata
    /// document) never wait: when the queue is full their events are counted and reported as a
    /// `dropped` event, so a flood of refused requests can neither slow the server nor crowd out
    /// the events of authorised work. The default.
    #[default]
    Wait,
    /// The event is dropped and counted; the count is reported as a `dropped` event and by
    /// [`Auditor::dropped`](crate::Auditor::dropped).
    DropAndCount,
}

pub(crate) enum Message {
    /// What one request left behind; the writer thread turns it into events, so building and
    /// formatting them costs the request nothing.
    Request(Box<(Observed, Record)>),
    Shutdown(std::sync::mpsc::Sender<()>),
}

/// An event that found the queue full and may wait for room: await it before the response ends.
/// Dropped unfinished (the client went away mid-wait), it finishes as a task of the current
/// Tokio runtime, or, outside one, its events are counted as dropped: never lost unaccounted.
pub(crate) struct Waiting {
    send: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    shared: Arc<Shared>,
    events: u64,
}

impl Future for Waiting {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if let Some(send) = self.send.as_mut() {
            std::task::ready!(send.as_mut().poll(cx));
            self.send = None;
        }
        std::task::Poll::Ready(())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(send) = self.send.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(send)),
            Err(_) => self.shared.count_dropped(self.events),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    sender: Sender<Message>,
    overflow: Overflow,
    dropped_total: Arc<AtomicU64>,
    waited_total: Arc<AtomicU64>,
    dropped_unreported: Arc<AtomicU64>,
    closed: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) include_metadata: bool,
    /// Read by the OpenTelemetry SDK when it collects; kept for the queue's lifetime.
    _instruments: Instruments,
}

/// The queue's depth and losses, observed when the metrics are collected (nothing on the
/// request path).
#[derive(Debug)]
struct Instruments {
    _depth: ObservableGauge<u64>,
    _dropped: ObservableCounter<u64>,
    _waited: ObservableCounter<u64>,
}

impl Instruments {
    fn new(sender: &Sender<Message>, dropped: &Arc<AtomicU64>, waited: &Arc<AtomicU64>) -> Self {
        let meter = mcp_auth_core::telemetry::meter();
        // Weak: the gauge must not keep the queue open after the auditor is gone.
        let queue = sender.downgrade();
        let (dropped, waited) = (dropped.clone(), waited.clone());
        Self {
            _depth: meter
                .u64_observable_gauge("mcp_auth.audit.queue.depth")
                .with_description("Requests whose events wait in the audit queue")
                .with_callback(move |observer| {
                    if let Some(queue) = queue.upgrade() {
                        let depth = queue.max_capacity() - queue.capacity();
                        observer.observe(depth as u64, &[]);
                    }
                })
                .build(),
            _dropped: meter
                .u64_observable_counter("mcp_auth.audit.queue.dropped")
                .with_description("Audit events dropped because the queue was full or closed")
                .with_callback(move |observer| {
                    observer.observe(dropped.load(Ordering::Relaxed), &[])
                })
                .build(),
            _waited: meter
                .u64_observable_counter("mcp_auth.audit.queue.waited")
                .with_description("Requests that waited for room in the audit queue")
                .with_callback(move |observer| {
                    observer.observe(waited.load(Ordering::Relaxed), &[])
                })
                .build(),
        }
    }
}

impl Shared {
    /// Starts the writer thread behind a queue of `capacity` requests.
    ///
    /// # Panics
    /// If the operating system refuses to start a thread.
    pub(crate) fn start(
        sinks: Vec<Box<dyn AuditSink>>,
        capacity: usize,
        overflow: Overflow,
        include_metadata: bool,
    ) -> Self {
        let (sender, receiver) = channel(capacity);
        let unreported = Arc::new(AtomicU64::new(0));
        let writer_unreported = unreported.clone();
        let thread = std::thread::Builder::new()
            .name("mcp-auth-audit".into())
            .spawn(move || write_loop(receiver, sinks, writer_unreported))
            .expect("start the audit writer thread");
        let (dropped_total, waited_total) = (Arc::default(), Arc::default());
        Self {
            _instruments: Instruments::new(&sender, &dropped_total, &waited_total),
            sender,
            overflow,
            dropped_total,
            waited_total,
            dropped_unreported: unreported,
            closed: AtomicBool::new(false),
            thread: Mutex::new(Some(thread)),
            include_metadata,
        }
    }

    /// Events dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Requests that found the queue full and waited for room.
    pub(crate) fn waited(&self) -> u64 {
        self.waited_total.load(Ordering::Relaxed)
    }

    /// Writes everything queued, flushes the sinks and stops the writer thread.
    pub(crate) fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let (ack, done) = std::sync::mpsc::channel();
        // Never `blocking_send`: it panics when called from async code by mistake.
        let mut shutdown = Message::Shutdown(ack);
        loop {
            match self.sender.try_send(shutdown) {
                Ok(()) => {
                    let _ = done.recv();
                    break;
                }
                Err(TrySendError::Full(message)) => {
                    shutdown = message;
                    std::thread::sleep(LINGER);
                }
                Err(TrySendError::Closed(_)) => break,
            }
        }
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }

    /// Queues the events of one request under the overflow policy, without ever blocking the
    /// thread. When the queue is full and the request may wait for room, returns the wait.
    pub(crate) fn submit(
        self: &Arc<Self>,
        observed: Observed,
        record: Record,
        may_wait: bool,
    ) -> Option<Waiting> {
        // The request event, and one per exchange.
        let n = 1 + record.exchanges.len() as u64;
        if self.closed.load(Ordering::Acquire) {
            self.count_dropped(n);
            return None;
        }
        let message = Message::Request(Box::new((observed, record)));
        match self.sender.try_send(message) {
            Ok(()) => None,
            Err(TrySendError::Full(message)) if may_wait && self.overflow == Overflow::Wait => {
                self.waited_total.fetch_add(1, Ordering::Relaxed);
                let shared = self.clone();
                Some(Waiting {
                    send: Some(Box::pin(async move {
                        if shared.sender.send(message).await.is_err() {
                            shared.count_dropped(n);
                        }
                    })),
                    shared: self.clone(),
                    events: n,
                })
            }
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.count_dropped(n);
                None
            }
        }
    }

    /// Like [`submit`](Self::submit) where nobody can wait (a response dropped early, a
    /// failed service): a wait, dropped at once, continues on its own (see [`Waiting`]).
    pub(crate) fn submit_detached(self: &Arc<Self>, observed: Observed, record: Record) {
        drop(self.submit(observed, record, true));
    }

    fn count_dropped(&self, n: u64) {
        self.dropped_total.fetch_add(n, Ordering::Relaxed);
        self.dropped_unreported.fetch_add(n, Ordering::Relaxed);
    }
}

fn write_loop(
    mut receiver: Receiver<Message>,
    mut sinks: Vec<Box<dyn AuditSink>>,
    unreported: Arc<AtomicU64>,
) {
    let write = |sinks: &mut Vec<Box<dyn AuditSink>>, event: &AuditEvent| {
        for sink in sinks.iter_mut() {
            sink.write(event);
        }
    };
    let report_dropped = |sinks: &mut Vec<Box<dyn AuditSink>>| {
        let n = unreported.swap(0, Ordering::Relaxed);
        if n > 0 {
            let event = dropped_event(n);
            for sink in sinks.iter_mut() {
                sink.write(&event);
            }
        }
    };
    while let Some(message) = receiver.blocking_recv() {
        let mut next = Some(message);
        // Drain what is queued before flushing: batches under load, prompt when idle.
        while let Some(message) = next.take() {
            match message {
                Message::Request(request) => {
                    let (observed, record) = *request;
                    for event in &events(observed, record) {
                        write(&mut sinks, event);
                    }
                }
                Message::Shutdown(ack) => {
                    report_dropped(&mut sinks);
                    for sink in sinks.iter_mut() {
                        sink.flush();
                    }
                    let _ = ack.send(());
                    return;
                }
            }
            next = receiver.try_recv().ok();
        }
        report_dropped(&mut sinks);
        for sink in sinks.iter_mut() {
            sink.flush();
        }
        // Linger before waiting again: under load the next events queue up meanwhile and are
        // written as one batch, and requests never pay for waking this thread per event.
        std::thread::sleep(LINGER);
    }
}

/// How long the writer lets events gather after emptying the queue.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
