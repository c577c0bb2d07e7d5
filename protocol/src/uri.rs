//! Placeholder while this module is written.
