//! Wire types (placeholder, being written).
