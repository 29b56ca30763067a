# Writes the file IN as a C++ raw string literal into OUT.
file(READ ${IN} content)
file(WRITE ${OUT} "#pragma once\n// Generated from config/default.json; edit that file.\nnamespace flotilla::config {\ninline constexpr const char* default_config_json = R\"flotilla_json(${content})flotilla_json\";\n}\n")
