//! Shared code of the threadline fuzz targets: the invariants each input is checked against.

pub mod oracles;
