//! The command line: `ringbar version | init DIR | start DIR | stop DIR |
//! status DIR | check DIR | keys DIR | convert DIR | management ... |
//! sql schema`.
//!
//! Where a command takes a node directory it also takes Crossbar.io's
//! `--cbdir DIR` for it, and defaults as Crossbar.io does; `start`,
//! `check` and `convert` take `--config FILE` as Crossbar.io does.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringbar_engine::config::IoBackend;

use crate::config::Overrides;

/// ringbar: a fast WAMP router node that reads Crossbar.io's config.json.
#[derive(Debug, Parser)]
#[command(name = "ringbar", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// How much to log, in Crossbar.io's level names (the environment
    /// variable RINGBAR_LOG, a tracing filter, overrides it).
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Info)]
    pub(crate) loglevel: LogLevel,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the version.
    Version,
    /// Create a node directory: config.json and the instance key pair.
    Init {
        /// The node directory (created if missing).
        dir: PathBuf,
        /// The management service to pair with, e.g.
        /// wss://manage.example.com/ws (written to the config as
        /// ringbar.management.url).
        #[arg(long, value_name = "URL", value_parser = management_url)]
        management: Option<String>,
        /// The management service's public key (64 hex digits; its
        /// `ringbar management start` logs it): the node joins only a
        /// service that proves it holds the matching private key. Without
        /// it the node pins the key of the service that first pairs it.
        #[arg(long, value_name = "HEX", requires = "management", value_parser = management_key)]
        management_key: Option<[u8; 32]>,
        /// The PEM file of the CA that signed the wss:// management
        /// service's certificate (default: the system's roots); written to
        /// the config as ringbar.management.ca_certificates.
        #[arg(long, value_name = "FILE", requires = "management")]
        management_ca: Option<PathBuf>,
    },
    /// Run the node of a directory until SIGINT or SIGTERM (initialising
    /// the directory first if it does not exist).
    Start {
        /// The node directory.
        #[command(flatten)]
        node: NodeDir,
        /// The config file.
        #[command(flatten)]
        config: ConfigFile,
        /// How to run it.
        #[command(flatten)]
        run: RunArgs,
    },
    /// Stop the node running from a directory and wait for its clean exit
    /// (exit 0; 3 when none runs; 1 when it did not stop in time).
    Stop {
        /// The node directory.
        #[command(flatten)]
        node: NodeDir,
        /// How long to wait for the node to exit, in seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Show whether the node of a directory runs: pid, uptime, transports,
    /// cores, sessions, message rates (exit 0; 3 when none runs).
    Status {
        /// The node directory.
        #[command(flatten)]
        node: NodeDir,
        /// Print the status as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Check a node directory's config: exit 0 if valid, else 2 with every
    /// error.
    Check {
        /// The node directory.
        #[command(flatten)]
        node: NodeDir,
        /// The config file.
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Print the node's public key (its instance key, made first if the
    /// directory has none), as `crossbar keys` does.
    Keys {
        /// The node directory.
        #[command(flatten)]
        node: NodeDir,
        /// Print the private key instead.
        #[arg(long)]
        private: bool,
    },
    /// Convert the node's config file from JSON to YAML or from YAML to
    /// JSON, beside it (config.json <-> config.yaml), once it is valid:
    /// exit 0 when written, 2 for an invalid or missing config, 1 when the
    /// other file exists.
    Convert {
        /// The node directory.
        #[command(flatten)]
        node: NodeDir,
        /// The config file.
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Pair the node that printed activation code CODE with you, an owner
    /// of the management service (the password is read from
    /// --password-file, else RINGBAR_PASSWORD, else a prompt on a
    /// terminal). Exit 0 when paired, 2 for a wrong or expired code, 1
    /// when the service cannot be reached or refuses the password.
    Pair {
        /// The activation code the node printed (e.g. W97F-96MJ-YGJL).
        code: String,
        /// The management service, e.g. wss://manage.example.com/ws.
        #[arg(long, value_name = "URL", value_parser = management_url)]
        management: String,
        /// The PEM file of the CA that signed the wss:// service's
        /// certificate (default: the system's roots).
        #[arg(long, value_name = "FILE")]
        management_ca: Option<PathBuf>,
        /// Send the password over plain ws:// to a host other than this
        /// machine (refused without it: anyone on the path could read it).
        #[arg(long)]
        allow_plain_ws: bool,
        /// Your owner name at the management service.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// A name for the node (default: the start of its public key).
        #[arg(long, value_name = "NODE")]
        name: Option<String>,
        /// Read the password from the first line of this file.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Run a management service, which nodes pair with.
    Management {
        /// What to do.
        #[command(subcommand)]
        command: ManagementCommand,
    },
    /// The SQL of the PostgreSQL bridge.
    Sql {
        /// What to print.
        #[command(subcommand)]
        command: SqlCommand,
    },
}

/// The `ringbar sql` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum SqlCommand {
    /// Print the `ringbar` schema the PostgreSQL bridge installs (idempotent
    /// SQL), for installing it with your own migration tool.
    Schema,
}

/// The `ringbar management` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ManagementCommand {
    /// Create a management service directory: config.json (the management
    /// realm on ws://127.0.0.1:9000/ws), the instance key pair and the
    /// state database.
    Init {
        /// The management directory (created if missing).
        dir: PathBuf,
    },
    /// Add an owner, who pairs and manages nodes. The password is read
    /// from --password-file, else the environment variable
    /// RINGBAR_PASSWORD, else a prompt on a terminal.
    Adduser {
        /// The management directory.
        dir: PathBuf,
        /// The owner's name (their authid).
        name: String,
        /// Read the password from the first line of this file.
        #[arg(long, value_name = "FILE", conflicts_with = "pubkey")]
        password_file: Option<PathBuf>,
        /// Authenticate the owner by this Ed25519 public key (64 hex
        /// digits) instead of a password.
        #[arg(long, value_name = "HEX")]
        pubkey: Option<String>,
    },
    /// List the owners.
    Users {
        /// The management directory.
        dir: PathBuf,
    },
    /// List the nodes the service knows.
    Nodes {
        /// The management directory.
        dir: PathBuf,
    },
    /// Run the management service of a directory until SIGINT or SIGTERM.
    Start {
        /// The management directory.
        dir: PathBuf,
        /// How to run it.
        #[command(flatten)]
        run: RunArgs,
    },
}

/// The node directory: the argument, else `--cbdir`, else Crossbar.io's
/// default.
#[derive(Debug, Clone, Args)]
pub(crate) struct NodeDir {
    /// The node directory [default: --cbdir, else $CROSSBAR_DIR, else
    /// ./.crossbar if it exists, else the current directory].
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The node directory, in Crossbar.io's spelling (a config file's path
    /// stands for its directory).
    #[arg(long, value_name = "DIR", conflicts_with = "dir")]
    cbdir: Option<PathBuf>,
}

/// The config file: `--config`, else the node directory's config.json,
/// else its config.yaml.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigFile {
    /// The config file, relative to the node directory (a .json or .yaml
    /// file) [default: config.json, else config.yaml].
    #[arg(long = "config", value_name = "FILE")]
    file: Option<PathBuf>,
}

impl NodeDir {
    /// The directory these flags name, resolved as Crossbar.io resolves
    /// its `--cbdir`.
    pub(crate) fn path(self) -> PathBuf {
        let crossbar_dir = std::env::var_os("CROSSBAR_DIR").map(PathBuf::from);
        node_dir(
            self.dir.or(self.cbdir),
            crossbar_dir,
            Path::new(".crossbar"),
        )
    }
}

impl ConfigFile {
    /// The file given, relative to the node directory `dir`; `None` when
    /// the directory's own file is to be found.
    pub(crate) fn path(&self, dir: &Path) -> Option<PathBuf> {
        self.file.as_ref().map(|file| dir.join(file))
    }
}

/// The node directory: `given`, else `crossbar_dir` (`$CROSSBAR_DIR`), else
/// `dot_crossbar` when it is a directory, else the current directory; a
/// file stands for the directory that holds it.
fn node_dir(given: Option<PathBuf>, crossbar_dir: Option<PathBuf>, dot_crossbar: &Path) -> PathBuf {
    let dir = given.or(crossbar_dir).unwrap_or_else(|| {
        if dot_crossbar.is_dir() {
            dot_crossbar.to_path_buf()
        } else {
            PathBuf::from(".")
        }
    });
    if dir.is_file() {
        match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    } else {
        dir
    }
}

/// How to run a router: flags of `start` and `management start`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RunArgs {
    /// Core threads to run [default: the config's ringbar.cores, else
    /// every CPU this process may use].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) cores: Option<u16>,
    /// The I/O backend [default: the config's ringbar.io, else auto].
    #[arg(long, value_enum)]
    pub(crate) io: Option<IoArg>,
}

impl RunArgs {
    /// The settings these flags override.
    pub(crate) fn overrides(self) -> Overrides {
        Overrides {
            cores: self.cores.map(usize::from),
            io: self.io.map(Into::into),
        }
    }
}

/// Log levels, as Crossbar.io names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogLevel {
    /// Nothing.
    None,
    /// Only what stops the node (logged as errors).
    Critical,
    /// Errors.
    Error,
    /// Warnings and errors.
    Warn,
    /// The node's lifecycle, warnings and errors.
    Info,
    /// Details for debugging.
    Debug,
    /// Everything.
    Trace,
}

/// The `--io` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IoArg {
    /// io_uring (fails if the kernel refuses it).
    Uring,
    /// epoll.
    Epoll,
    /// io_uring where the kernel allows it, else epoll.
    Auto,
}

impl LogLevel {
    /// The `tracing` filter directive of this level.
    pub(crate) fn directive(self) -> &'static str {
        match self {
            LogLevel::None => "off",
            LogLevel::Critical | LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Parses `--management URL`: a WebSocket URL.
fn management_url(url: &str) -> Result<String, String> {
    crate::config::uplink::check_url(url).map(|()| url.to_owned())
}

/// Parses `--management-key HEX`: an Ed25519 public key.
fn management_key(hex: &str) -> Result<[u8; 32], String> {
    crate::key::pinned::parse_public_key(hex)
}

impl From<IoArg> for IoBackend {
    fn from(io: IoArg) -> Self {
        match io {
            IoArg::Uring => IoBackend::Uring,
            IoArg::Epoll => IoBackend::Epoll,
            IoArg::Auto => IoBackend::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn start_takes_its_flags() {
        let cli = Cli::try_parse_from([
            "ringbar",
            "start",
            "node",
            "--cores",
            "2",
            "--io",
            "epoll",
            "--loglevel",
            "critical",
        ])
        .unwrap();
        assert_eq!(cli.loglevel, LogLevel::Critical);
        match cli.command {
            Command::Start { node, run, .. } => {
                assert_eq!(node.path(), PathBuf::from("node"));
                assert_eq!(run.cores, Some(2));
                assert_eq!(run.io, Some(IoArg::Epoll));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn init_takes_a_websocket_management_url() {
        let cli = Cli::try_parse_from(["ringbar", "init", "d", "--management", "ws://m:9000/ws"])
            .unwrap();
        match cli.command {
            Command::Init { management, .. } => {
                assert_eq!(management.as_deref(), Some("ws://m:9000/ws"));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["ringbar", "init", "d", "--management", "http://m"]).is_err());
    }

    #[test]
    fn the_node_directory_is_given_or_crossbar_s_default() {
        let cli = Cli::try_parse_from(["ringbar", "start", "--cbdir", "n", "--config", "c.yaml"])
            .unwrap();
        match cli.command {
            Command::Start { node, config, .. } => {
                let dir = node.path();
                assert_eq!(dir, PathBuf::from("n"));
                assert_eq!(config.path(&dir), Some(PathBuf::from("n/c.yaml")));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["ringbar", "check", "a", "--cbdir", "b"]).is_err());

        let given = Some(PathBuf::from("given"));
        let env = Some(PathBuf::from("from-env"));
        let missing = Path::new("/nonexistent/.crossbar");
        assert_eq!(
            node_dir(given.clone(), env.clone(), missing),
            PathBuf::from("given")
        );
        assert_eq!(node_dir(None, env, missing), PathBuf::from("from-env"));
        assert_eq!(node_dir(None, None, missing), PathBuf::from("."));
        let here = std::env::temp_dir().join(format!("ringbar-cli-{}", std::process::id()));
        let dot_crossbar = here.join(".crossbar");
        std::fs::create_dir_all(&dot_crossbar).unwrap();
        assert_eq!(node_dir(None, None, &dot_crossbar), dot_crossbar);
        let file = dot_crossbar.join("config.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(node_dir(Some(file), None, missing), dot_crossbar);
        std::fs::remove_dir_all(&here).unwrap();
    }

    #[test]
    fn zero_cores_is_refused() {
        assert!(Cli::try_parse_from(["ringbar", "start", "d", "--cores", "0"]).is_err());
    }
}
