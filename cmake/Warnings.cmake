# Project-wide warning flags and the helper that every lowbit library uses.
set(LOWBIT_WARNINGS -Wall -Wextra -Wpedantic -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND LOWBIT_WARNINGS -Wshadow=local)  # clang (fuzz builds) has no =local form
endif()

# lowbit_library(name SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Public headers live in src/<layer>/include/lowbit/<layer>/; only that folder is exported.
function(lowbit_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_compile_options(${name} PRIVATE ${LOWBIT_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()
