//! On-behalf-of token exchange (work in progress).
