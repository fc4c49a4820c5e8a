//! Client ID Metadata Documents (work in progress).
