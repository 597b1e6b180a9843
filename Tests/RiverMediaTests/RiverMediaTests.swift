// Tests for RiverMedia.
