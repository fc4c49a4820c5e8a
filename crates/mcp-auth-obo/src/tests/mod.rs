//! Tests against a mock authorization server on 127.0.0.1.

mod cache;
mod client;
mod dpop;
mod layer;
mod mock;
