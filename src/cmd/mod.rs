pub mod compact;
pub mod consume;
pub mod context;
pub mod demo;
pub mod geoip;
pub mod invoke;
pub mod replay;
pub mod score;
