//! Pieces shared by the pages.

pub mod field;
pub mod tabs;
