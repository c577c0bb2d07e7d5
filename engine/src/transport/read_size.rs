//! How much room a connection's next read gets: little while it is quiet,
//! so that ten thousand idle sessions hold ten thousand small buffers, and
//! doubling while reads come back full, so that a busy publisher is read in
//! big pieces.

use bytes::BytesMut;

/// The room a quiet connection reads into. This and [`MAX_READ`] are
/// speed and memory choices (see the module doc), not bounds on peers
/// (the transports' message limits are).
const MIN_READ: usize = 1024;

/// The most room one read gets.
const MAX_READ: usize = 64 * 1024;

/// The read size of one connection.
pub(crate) struct ReadSize {
    next: usize,
}

impl ReadSize {
    /// A new connection's: small.
    pub(crate) fn new() -> Self {
        Self { next: MIN_READ }
    }

    /// The room the next read should have.
    pub(crate) fn next(&self) -> usize {
        self.next
    }

    /// Learns from a read of `n` bytes: a full read doubles the room, a
    /// read of under a quarter of it halves it.
    pub(crate) fn observe(&mut self, n: usize) {
        if n >= self.next {
            self.next = (self.next * 2).min(MAX_READ);
        } else if n < self.next / 4 {
            self.next = (self.next / 2).max(MIN_READ);
        }
    }

    /// Lets go of a large buffer that holds nothing (every frame in it was
    /// handed on), so a connection that went quiet does not keep it.
    pub(crate) fn trim(&self, buf: &mut BytesMut) {
        if buf.is_empty() && buf.capacity() > 2 * self.next {
            *buf = BytesMut::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_reads_are_full_and_shrinks_when_quiet() {
        let mut size = ReadSize::new();
        assert_eq!(size.next(), MIN_READ);
        for _ in 0..10 {
            let full = size.next();
            size.observe(full);
        }
        assert_eq!(size.next(), MAX_READ);
        for _ in 0..10 {
            size.observe(100);
        }
        assert_eq!(size.next(), MIN_READ);
    }

    #[test]
    fn an_empty_big_buffer_is_let_go() {
        let size = ReadSize::new();
        let mut buf = BytesMut::with_capacity(MAX_READ);
        size.trim(&mut buf);
        assert_eq!(buf.capacity(), 0);
        let mut holding = BytesMut::with_capacity(MAX_READ);
        holding.extend_from_slice(b"partial frame");
        size.trim(&mut holding);
        assert!(holding.capacity() >= MAX_READ);
    }
}
