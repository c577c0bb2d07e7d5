//! Diagnostics: config errors and warnings, each with the path of the value
//! it is about (`workers[0].transports[1].endpoint.port`).

use std::fmt;

/// Where a value sits in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Path(Vec<Segment>);

/// One step of a [`Path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A key of an object.
    Key(String),
    /// An index into a list.
    Index(usize),
}

/// One finding about the config, rendered as `FILE: PATH: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// The file's name, e.g. `config.json`.
    pub(crate) file: String,
    /// Where in the file; empty for the whole file.
    pub(crate) path: Path,
    /// What is wrong, and where possible how to fix it.
    pub(crate) message: String,
}

/// The errors and warnings found while reading one config file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Diagnostics {
    file: String,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    read_on: ReadOn,
}

/// Where a config is read. What only the node that runs it has (its
/// environment variables, its files) can be checked there alone: a
/// management service checking a config it hands out sees its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ReadOn {
    /// On the node that runs it (`ringbar check`, `ringbar start`).
    #[default]
    TheNode,
    /// Elsewhere: its shape is checked, the node checks the rest.
    Elsewhere,
}

impl Path {
    /// The path of the whole file.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path, then the object key `key`.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path, then the list index `index`.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// This path, then every segment of `tail`.
    pub(crate) fn join(&self, tail: Path) -> Self {
        let mut path = self.clone();
        path.0.extend(tail.0);
        path
    }

    /// A path made of `segments`.
    pub(crate) fn from_segments(segments: Vec<Segment>) -> Self {
        Self(segments)
    }

    /// Whether this is the path of the whole file.
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if at > 0 {
                        f.write_str(".")?;
                    }
                    if is_plain_key(key) {
                        f.write_str(key)?;
                    } else {
                        // Keys such as the web path "/" are quoted so that the
                        // path stays readable and unambiguous.
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl Diagnostics {
    /// Empty diagnostics for the file named `file` (e.g. `config.json`).
    pub(crate) fn new(file: &str) -> Self {
        Self::read_on(file, ReadOn::TheNode)
    }

    /// [`Diagnostics::new`] for a config read where `read_on` says.
    pub(crate) fn read_on(file: &str, read_on: ReadOn) -> Self {
        Self {
            file: file.to_owned(),
            errors: Vec::new(),
            warnings: Vec::new(),
            read_on,
        }
    }

    /// Whether the config is read on the node that runs it, so that its
    /// environment variables and files are there to check (elsewhere
    /// they are neither read nor checked).
    pub(crate) fn on_the_node(&self) -> bool {
        self.read_on == ReadOn::TheNode
    }

    /// Records an error at `path`.
    pub(crate) fn error(&mut self, path: &Path, message: impl fmt::Display) {
        let diagnostic = self.diagnostic(path, message);
        self.errors.push(diagnostic);
    }

    /// Records a warning at `path`.
    pub(crate) fn warn(&mut self, path: &Path, message: impl fmt::Display) {
        let diagnostic = self.diagnostic(path, message);
        self.warnings.push(diagnostic);
    }

    /// Whether any error was recorded.
    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// How many errors were recorded so far (to tell whether a part added any).
    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The errors, in the order found.
    #[cfg(test)]
    pub(crate) fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }

    /// The warnings, in the order found.
    #[cfg(test)]
    pub(crate) fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Splits into (errors, warnings).
    pub(crate) fn into_parts(self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        (self.errors, self.warnings)
    }

    fn diagnostic(&self, path: &Path, message: impl fmt::Display) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            path: path.clone(),
            message: message.to_string(),
        }
    }
}

/// Keys printed bare in a path: what looks like an identifier.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_code() {
        let path = Path::root()
            .key("workers")
            .index(0)
            .key("transports")
            .index(1)
            .key("endpoint")
            .key("port");
        assert_eq!(path.to_string(), "workers[0].transports[1].endpoint.port");
    }

    #[test]
    fn odd_keys_are_quoted() {
        let path = Path::root().key("paths").key("/").key("type");
        assert_eq!(path.to_string(), "paths.\"/\".type");
    }

    #[test]
    fn diagnostics_name_the_file() {
        let mut diag = Diagnostics::new("config.json");
        diag.error(&Path::root().key("version"), "3 is not supported");
        diag.warn(&Path::root(), "empty");
        assert_eq!(
            diag.errors()[0].to_string(),
            "config.json: version: 3 is not supported"
        );
        assert_eq!(diag.warnings()[0].to_string(), "config.json: empty");
    }
}
