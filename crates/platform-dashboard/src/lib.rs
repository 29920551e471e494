//! The operator's dashboard as pure logic: each page rendered from what the platform workers'
//! admin routes answer ([`pages`]), in a small escaping HTML writer ([`html`]) with inline SVG
//! charts ([`chart`]); the actions an admin may take and the calls they make ([`action`]); and the
//! anti-CSRF token that ties every action form to the person who loaded it ([`csrf`]).
//! Time is passed in; nothing here touches the Workers runtime, so it is all tested natively.

pub mod action;
pub mod chart;
pub mod csrf;
pub mod data;
pub mod html;
pub mod layout;
pub mod pages;

pub use html::Html;
