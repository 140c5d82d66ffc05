"""The WuKongIM protocol: packets, codec, crypto, connection and REST client. No Textual, no desk logic."""
