//! Pieces shared by the pages.

pub mod banner;
pub mod copy;
pub mod dialog;
pub mod field;
pub mod form;
pub mod icons;
pub mod table;
pub mod tabs;
