pub mod context;
pub mod demo;
pub mod geoip;
pub mod invoke;
