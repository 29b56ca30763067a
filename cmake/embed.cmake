# Writes the file IN as a C++ raw string literal named NAME (default: default_config_json) into OUT.
if(NOT DEFINED NAME)
  set(NAME default_config_json)
endif()
get_filename_component(source ${IN} NAME)
file(READ ${IN} content)
file(WRITE ${OUT} "#pragma once\n// Generated from config/${source}; edit that file.\nnamespace flotilla::config {\ninline constexpr const char* ${NAME} = R\"flotilla_json(${content})flotilla_json\";\n}\n")
