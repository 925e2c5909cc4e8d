"""File formats the runtime owns: MIDI files, the event and piano-roll codecs, text for lyrics."""
