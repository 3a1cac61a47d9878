//! Syslog over TCP (RFC 6587): where one message ends and the next begins. Each frame says
//! by its first byte how it is framed: a digit starts an octet-counted frame (`MSG-LEN SP
//! SYSLOG-MSG`), anything else (a syslog message starts with `<`) a line ended by LF
//! (non-transparent framing). Senders mix them in practice only by accident, but telling each
//! frame apart costs nothing and resynchronises after a bad frame.
//!
//! A frame over the size limit is skipped without being buffered (its length is known, or it
//! runs to the next LF), and one whose length prefix is not a number is taken as a line, so a
//! bad frame costs that frame only, never the lines after it.

use bytes::{Buf, Bytes, BytesMut};

/// What the framer found at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One message, without its framing and without the line end some senders put inside
    /// octet-counted frames (rsyslog's RFC 5424 templates end with LF).
    Message(Bytes),
    /// A message over the limit, skipped; its size where the frame said it.
    TooLarge { bytes: Option<usize> },
    /// An octet count that does not add up: a length prefix that is not one, or a
    /// connection that ended inside a frame. What it held, for the log.
    Broken(Bytes),
}

/// What is being skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skipping {
    /// The rest of an octet-counted frame over the limit.
    Octets { left: usize, size: usize },
    /// The rest of an over-long line, up to its LF.
    Line,
}

/// The most digits an octet count may have: more than any frame limit needs.
const MAX_COUNT_DIGITS: usize = 10;

/// Splits a byte stream into frames of at most `limit` bytes each.
#[derive(Debug)]
pub struct Framer {
    limit: usize,
    skipping: Option<Skipping>,
}

impl Framer {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            skipping: None,
        }
    }

    /// The next complete frame at the front of `buffer`, taken off it; `None` when more
    /// bytes are needed. Empty lines are passed over.
    pub fn next(&mut self, buffer: &mut BytesMut) -> Option<Frame> {
        loop {
            if let Some(skipped) = self.skip(buffer) {
                return skipped;
            }
            let first = *buffer.first()?;
            let frame = if first.is_ascii_digit() {
                self.octet_counted(buffer)
            } else {
                self.line(buffer)
            }?;
            match frame {
                Frame::Message(message) if message.is_empty() => continue,
                frame => return Some(frame),
            }
        }
    }

    /// At the end of the stream: the last line when it had no LF, the octet-counted frame it
    /// cut short, or the frame over the limit it was skipping.
    pub fn finish(&mut self, buffer: &mut BytesMut) -> Option<Frame> {
        if let Some(skipping) = self.skipping.take() {
            buffer.clear();
            let bytes = match skipping {
                Skipping::Octets { size, .. } => Some(size),
                Skipping::Line => None,
            };
            return Some(Frame::TooLarge { bytes });
        }
        if buffer.is_empty() {
            return None;
        }
        let rest = buffer.split().freeze();
        if rest[0].is_ascii_digit() && count(&rest).is_some() {
            return Some(Frame::Broken(rest));
        }
        let message = trim_line_end(rest);
        (!message.is_empty()).then_some(Frame::Message(message))
    }

    /// Drops what is being skipped; `Some(frame)` once a skip is complete (its `TooLarge`),
    /// `Some(None)` while more is to be skipped than the buffer holds.
    fn skip(&mut self, buffer: &mut BytesMut) -> Option<Option<Frame>> {
        match self.skipping? {
            Skipping::Octets { left, size } => {
                let dropped = left.min(buffer.len());
                buffer.advance(dropped);
                if dropped < left {
                    self.skipping = Some(Skipping::Octets {
                        left: left - dropped,
                        size,
                    });
                    return Some(None);
                }
                self.skipping = None;
                Some(Some(Frame::TooLarge { bytes: Some(size) }))
            }
            Skipping::Line => match memchr(b'\n', buffer) {
                Some(end) => {
                    buffer.advance(end + 1);
                    self.skipping = None;
                    Some(Some(Frame::TooLarge { bytes: None }))
                }
                None => {
                    buffer.clear();
                    Some(None)
                }
            },
        }
    }

    fn octet_counted(&mut self, buffer: &mut BytesMut) -> Option<Frame> {
        let Some((size, header)) = count(buffer) else {
            // Not (yet) `digits SP`: wait for the count to be complete, unless it never
            // will be, in which case the frame is a broken line.
            let complete =
                buffer.len() > MAX_COUNT_DIGITS || buffer.iter().any(|byte| !byte.is_ascii_digit());
            if !complete {
                return None;
            }
            return match self.line(buffer)? {
                Frame::Message(line) => Some(Frame::Broken(line)),
                other => Some(other),
            };
        };
        if size > self.limit {
            buffer.advance(header);
            self.skipping = Some(Skipping::Octets { left: size, size });
            return self.skip(buffer).flatten();
        }
        if buffer.len() < header + size {
            buffer.reserve(header + size - buffer.len());
            return None;
        }
        buffer.advance(header);
        let message = buffer.split_to(size).freeze();
        Some(Frame::Message(trim_line_end(message)))
    }

    fn line(&mut self, buffer: &mut BytesMut) -> Option<Frame> {
        match memchr(b'\n', buffer) {
            Some(end) if end > self.limit => {
                buffer.advance(end + 1);
                Some(Frame::TooLarge { bytes: None })
            }
            Some(end) => {
                let line = buffer.split_to(end + 1).freeze();
                Some(Frame::Message(trim_line_end(line)))
            }
            None if buffer.len() > self.limit => {
                buffer.clear();
                self.skipping = Some(Skipping::Line);
                None
            }
            None => None,
        }
    }
}

/// `MSG-LEN SP` at the start of `bytes`: the length and the header's size. A count of zero
/// frames nothing and is not one.
fn count(bytes: &[u8]) -> Option<(usize, usize)> {
    let digits = bytes
        .iter()
        .take(MAX_COUNT_DIGITS + 1)
        .position(|byte| !byte.is_ascii_digit())?;
    if digits == 0 || bytes[digits] != b' ' || bytes[0] == b'0' {
        return None;
    }
    let size = std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()?;
    Some((size, digits + 1))
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|byte| *byte == needle)
}

/// A message without the line end, NULs and carriage returns senders put after it.
pub fn without_line_end(message: &[u8]) -> &[u8] {
    let kept = message
        .iter()
        .rposition(|byte| !matches!(byte, b'\n' | b'\r' | b'\0'))
        .map_or(0, |last| last + 1);
    &message[..kept]
}

fn trim_line_end(mut message: Bytes) -> Bytes {
    message.truncate(without_line_end(&message).len());
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame of `input` fed `chunk` bytes at a time, then the end of the stream.
    fn frames(input: &[u8], limit: usize, chunk: usize) -> Vec<Frame> {
        let mut framer = Framer::new(limit);
        let mut buffer = BytesMut::new();
        let mut frames = Vec::new();
        for piece in input.chunks(chunk) {
            buffer.extend_from_slice(piece);
            while let Some(frame) = framer.next(&mut buffer) {
                frames.push(frame);
            }
        }
        frames.extend(framer.finish(&mut buffer));
        frames
    }

    fn message(text: &str) -> Frame {
        Frame::Message(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn broken(text: &str) -> Frame {
        Frame::Broken(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// The same frames whatever the reads' sizes.
    fn check(input: &[u8], limit: usize, expected: &[Frame]) {
        for chunk in [1, 2, 3, 7, input.len().max(1)] {
            assert_eq!(
                frames(input, limit, chunk),
                expected,
                "read {chunk} at a time"
            );
        }
    }

    #[test]
    fn lf_terminated_lines() {
        check(
            b"<13>one\n<13>two\r\n\n<13>three",
            100,
            &[message("<13>one"), message("<13>two"), message("<13>three")],
        );
    }

    // RFC 6587 section 3.4.1, and rsyslog's LF inside the frame.
    #[test]
    fn octet_counted_frames() {
        check(
            b"7 <13>one8 <13>two\n9 <13>a\nb c",
            100,
            &[
                message("<13>one"),
                message("<13>two"),
                message("<13>a\nb c"),
            ],
        );
    }

    #[test]
    fn framings_are_told_apart_frame_by_frame() {
        check(
            b"<13>line\n7 <13>one\n<13>again\n",
            100,
            &[
                message("<13>line"),
                message("<13>one"),
                message("<13>again"),
            ],
        );
    }

    #[test]
    fn a_bad_count_costs_its_line_only() {
        check(
            b"7 <13>one12abc <13>x\n<13>two\n0 <13>zero\n",
            100,
            &[
                message("<13>one"),
                broken("12abc <13>x"),
                message("<13>two"),
                broken("0 <13>zero"),
            ],
        );
        // More digits than any count has.
        check(
            b"123456789012345\n<13>two\n",
            100,
            &[broken("123456789012345"), message("<13>two")],
        );
    }

    #[test]
    fn frames_over_the_limit_are_skipped_without_losing_the_next() {
        check(
            b"12 <13>toolong!<13>a\n<13>this line is too long\n5 <13>b",
            10,
            &[
                Frame::TooLarge { bytes: Some(12) },
                message("<13>a"),
                Frame::TooLarge { bytes: None },
                message("<13>b"),
            ],
        );
        // An over-long last line without its LF.
        check(
            b"<13>a\n<13>and on and on",
            10,
            &[message("<13>a"), Frame::TooLarge { bytes: None }],
        );
        check(b"50 <13>cut", 10, &[Frame::TooLarge { bytes: Some(50) }]);
    }

    #[test]
    fn the_end_of_the_stream() {
        // A last line without LF is a message; a cut-short octet-counted frame is broken.
        check(b"<13>last", 100, &[message("<13>last")]);
        check(b"20 <13>cut", 100, &[broken("20 <13>cut")]);
        // A count still being read (digits only) ends the stream as a line.
        check(b"7 <13>one42", 100, &[message("<13>one"), message("42")]);
        check(b"", 100, &[]);
        check(b"\n\r\n", 100, &[]);
    }

    #[test]
    fn line_ends_and_nuls_are_trimmed() {
        assert_eq!(without_line_end(b"<13>m\r\n\0"), b"<13>m");
        assert_eq!(without_line_end(b"\n\n"), b"");
        assert_eq!(without_line_end(b"<13>a\nb"), b"<13>a\nb");
    }
}
