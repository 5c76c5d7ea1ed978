"""taxinav: fleet data to passenger-finding guidance."""
