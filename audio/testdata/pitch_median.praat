# Median F0 of a sound file with Praat's autocorrelation pitch tracker,
# configured like Earshot's extractor: 60-400 Hz, 10 ms steps.
# Usage: praat --run pitch_median.praat file.wav   (prints Hz, or --undefined--)
form Median pitch
  sentence file
endform
sound = Read from file: file$
pitch = To Pitch (ac): 0.01, 60, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, 400
median = Get quantile: 0, 0, 0.5, "Hertz"
voiced = Count voiced frames
writeInfoLine: fixed$(median, 3), " ", voiced
