//! One module per page family; each handler reads what it shows through the same engine and
//! store calls as the JSON API and writes HTML with the helpers of [`super::html`].

pub mod incidents;
pub mod investigations;
pub mod logs;
pub mod map;
pub mod services;
pub mod slos;
pub mod traces;
