//! Inputs validated once, at the edge: a [`ProjectId`], a [`Region`], an [`Endpoint`] (or
//! several: [`Endpoints`], with the official [`RegionsFile`]), and the [`InvalidInput`]
//! every validating constructor of the crate returns. Everything after the edge can trust
//! them.

mod endpoint;
mod endpoints;
pub(crate) mod env_names;
mod error;
mod project;
mod region;
mod regions_file;

pub use endpoint::{Endpoint, HttpPolicy};
pub use endpoints::{Endpoints, MAX_ENDPOINTS};
pub use error::{Input, InvalidInput, Problem};
pub(crate) use error::{check_chars, check_len};
pub use project::ProjectId;
pub use region::{KNOWN_REGIONS, Region};
pub use regions_file::{
    DEFAULT_REGIONS_FILE, ENV_REGIONS_FILE, FileEndpoint, MAX_REGIONS_FILE_LEN, RegionsFile,
    RegionsFileError, RegionsFileErrorKind,
};
