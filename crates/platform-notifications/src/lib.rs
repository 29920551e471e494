//! The notifications inbox as pure logic: what a producer sends ([`contract`]), who a notification
//! is for ([`people`]), what a person asked for ([`prefs`]), what they have read ([`inbox`]), the
//! Slack messages they get ([`digest`]), and how they prove who they are ([`token`], [`jwt`]).
//! Time is passed in; nothing here touches the Workers runtime, so it is all tested natively.

pub mod contract;
pub mod digest;
pub mod fields;
pub mod inbox;
pub mod jwt;
pub mod people;
pub mod prefs;
pub mod token;

pub use contract::{Audience, Category, NotificationInput, Priority};
pub use fields::Invalid;
pub use people::Person;
pub use prefs::Prefs;
