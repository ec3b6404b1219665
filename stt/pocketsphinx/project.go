package pocketsphinx

// ProjectConfig is the configuration Earshot decodes with unless told
// otherwise: the Debian acoustic model and dictionary, paths overridden by
// the EARSHOT_STT_* environment variables.
func ProjectConfig() Config {
	return ConfigFromEnv()
}
