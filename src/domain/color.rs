//! The two colors and the traffic split between them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the two identical stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub const ALL: [Color; 2] = [Color::Blue, Color::Green];

    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }

    pub fn parse(s: &str) -> Option<Color> {
        match s {
            "blue" => Some(Color::Blue),
            "green" => Some(Color::Green),
            _ => None,
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Listener weights of the two target groups, as read from (or written to) the ALB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Weights {
    /// Raw ALB weights (0–999); bluegreen itself always writes percentages summing to 100.
    pub blue: u16,
    pub green: u16,
}

impl Weights {
    /// All traffic on `color`.
    pub fn all_on(color: Color) -> Weights {
        match color {
            Color::Blue => Weights {
                blue: 100,
                green: 0,
            },
            Color::Green => Weights {
                blue: 0,
                green: 100,
            },
        }
    }

    pub fn get(self, color: Color) -> u16 {
        match color {
            Color::Blue => self.blue,
            Color::Green => self.green,
        }
    }

    /// The color that serves all production traffic, if one does. A split (during a shift) or
    /// an all-zero listener has no single live color.
    pub fn live_color(self) -> Option<Color> {
        match (self.blue, self.green) {
            (b, 0) if b > 0 => Some(Color::Blue),
            (0, g) if g > 0 => Some(Color::Green),
            _ => None,
        }
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blue {} / green {}", self.blue, self.green)
    }
}

/// `percent` % on `new`, the rest on `old` (on a first deploy there is no old color, so the
/// new one takes everything it is given and the schedule is all-at-once).
pub fn split(old: Option<Color>, new: Color, percent: u16) -> Weights {
    let mut w = Weights::default();
    match new {
        Color::Blue => w.blue = percent,
        Color::Green => w.green = percent,
    }
    if let Some(old) = old {
        match old {
            Color::Blue => w.blue = 100 - percent,
            Color::Green => w.green = 100 - percent,
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_color_only_when_one_side_has_everything() {
        assert_eq!(
            Weights::all_on(Color::Green).live_color(),
            Some(Color::Green)
        );
        assert_eq!(
            Weights {
                blue: 100,
                green: 0
            }
            .live_color(),
            Some(Color::Blue)
        );
        assert_eq!(
            Weights {
                blue: 90,
                green: 10
            }
            .live_color(),
            None
        );
        assert_eq!(Weights { blue: 0, green: 0 }.live_color(), None);
    }

    #[test]
    fn other_flips() {
        for c in Color::ALL {
            assert_eq!(c.other().other(), c);
            assert_ne!(c.other(), c);
        }
    }
}
