//! Inputs validated once, at the edge: a [`ProjectId`], a [`Region`], an [`Endpoint`], and
//! the [`InvalidInput`] every validating constructor of the crate returns. Everything after
//! the edge can trust them.

mod endpoint;
mod error;
mod project;
mod region;

pub use endpoint::{Endpoint, HttpPolicy};
pub use error::{Input, InvalidInput, Problem};
pub(crate) use error::{check_chars, check_len};
pub use project::ProjectId;
pub use region::{KNOWN_REGIONS, Region};
