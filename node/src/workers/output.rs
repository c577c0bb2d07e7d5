//! A guest's stdout and stderr, logged line by line with the worker's
//! name. A line is cut at [`MAX_LINE_BYTES`]: a guest that never writes a
//! newline cannot make the node buffer without bound.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest line logged; the rest of a longer line is dropped.
pub(super) const MAX_LINE_BYTES: usize = 64 * 1024;

/// How often [`drain`] looks at the loggers.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Logs every line read from `stream` (the guest's `name`d stream of the
/// worker `worker`) until it ends, from a thread of its own; the thread,
/// for waiting until the guest's last words are logged.
pub(super) fn spawn_logger(
    worker: &str,
    name: &'static str,
    stream: impl Read + Send + 'static,
) -> Option<JoinHandle<()>> {
    let id = worker.to_owned();
    let spawned = std::thread::Builder::new()
        .name(format!("guest-{name}"))
        .spawn(move || {
            for line in Lines::new(stream) {
                let cut = if line.cut { " [cut at 64 KiB]" } else { "" };
                tracing::info!(target: "guest", "{id}: {}{cut}", line.text);
            }
        });
    match spawned {
        Ok(thread) => Some(thread),
        Err(error) => {
            tracing::warn!(
                "cannot start a thread to log the {name} of guest worker {worker} ({error}); it is not logged."
            );
            None
        }
    }
}

/// Waits up to `timeout` for the `loggers` to reach the end of their
/// streams. A program the guest started may keep a stream open after the
/// guest ended: its logger then goes on alone.
pub(super) fn drain(loggers: Vec<JoinHandle<()>>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while loggers.iter().any(|thread| !thread.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(DRAIN_POLL);
    }
}

/// One line of a guest's output.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Line {
    /// The text, without its line end; invalid UTF-8 replaced.
    pub(super) text: String,
    /// Whether the line was longer than [`MAX_LINE_BYTES`] and cut.
    pub(super) cut: bool,
}

/// The lines of a stream, each at most [`MAX_LINE_BYTES`].
pub(super) struct Lines<R> {
    reader: BufReader<R>,
    done: bool,
}

impl<R: Read> Lines<R> {
    /// The lines of `stream`.
    pub(super) fn new(stream: R) -> Self {
        Lines {
            reader: BufReader::new(stream),
            done: false,
        }
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let mut line = Vec::new();
        let mut cut = false;
        while !self.done {
            let buffer = match self.reader.fill_buf() {
                Ok(buffer) => buffer,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => &[],
            };
            if buffer.is_empty() {
                self.done = true;
                break;
            }
            let newline = buffer.iter().position(|&b| b == b'\n');
            let part = &buffer[..newline.unwrap_or(buffer.len())];
            let room = MAX_LINE_BYTES - line.len();
            if part.len() > room {
                cut = true;
            }
            line.extend_from_slice(&part[..part.len().min(room)]);
            let used = newline.map_or(buffer.len(), |at| at + 1);
            self.reader.consume(used);
            if newline.is_some() {
                return Some(finish(line, cut));
            }
        }
        (!line.is_empty()).then(|| finish(line, cut))
    }
}

fn finish(mut line: Vec<u8>, cut: bool) -> Line {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Line {
        text: String::from_utf8_lossy(&line).into_owned(),
        cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Line> {
        Lines::new(input).collect()
    }

    fn line(text: &str) -> Line {
        Line {
            text: text.to_owned(),
            cut: false,
        }
    }

    #[test]
    fn lines_are_split_and_the_last_one_needs_no_newline() {
        assert_eq!(
            lines(b"one\r\ntwo\n\nthree"),
            [line("one"), line("two"), line(""), line("three")]
        );
        assert_eq!(lines(b""), []);
    }

    #[test]
    fn long_lines_are_cut_and_the_next_line_is_whole() {
        let mut input = vec![b'x'; 3 * MAX_LINE_BYTES];
        input.extend_from_slice(b"\nnext\n");
        let got = lines(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text.len(), MAX_LINE_BYTES);
        assert!(got[0].cut);
        assert_eq!(got[1], line("next"));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(lines(b"a\xffb\n"), [line("a\u{fffd}b")]);
    }
}
