// Tests for RiverWebRTC.
