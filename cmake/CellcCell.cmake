# cellc_add_cell_library(<target> <file.cell> [NAME <name>] [DEFINES H=512 ...]
#                        [TARGET <halide-target>] [BACKEND halide|mlir])
#
# Compiles a .cell file with cellc into lib<name>.so and <name>.h in the build tree and makes
# an IMPORTED library target <target> that carries both: link it and include "<name>.h".
# <name> is NAME if given, else the file's stem; it must equal the cell's name (its `cell NAME`
# line), which names the files cellc writes. BACKEND mlir builds it through MLIR 14 (needs
# mlir-14-tools and llvm-14; serial code, for cross-checks) instead of Halide.
function(cellc_add_cell_library target cell_file)
  cmake_parse_arguments(ARG "" "TARGET;NAME;BACKEND" "DEFINES" ${ARGN})
  get_filename_component(cell_file "${cell_file}" ABSOLUTE)
  get_filename_component(stem "${cell_file}" NAME_WE)
  if(NOT ARG_NAME)
    set(ARG_NAME "${stem}")
  endif()
  if(NOT ARG_TARGET)
    set(ARG_TARGET host)
  endif()
  if(NOT ARG_BACKEND)
    set(ARG_BACKEND halide)
  endif()
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/cells/${target}")
  set(lib "${out_dir}/lib${ARG_NAME}.so")
  set(define_args "")
  foreach(d ${ARG_DEFINES})
    list(APPEND define_args -D "${d}")
  endforeach()
  if(TARGET cellc)
    set(cellc_exe $<TARGET_FILE:cellc>)
    set(cellc_dep cellc)
  else()
    find_program(cellc_exe cellc REQUIRED)
    set(cellc_dep "")
  endif()
  add_custom_command(
    OUTPUT "${lib}" "${out_dir}/${ARG_NAME}.h"
    COMMAND ${cellc_exe} compile "${cell_file}" -o "${lib}" --target ${ARG_TARGET}
            --backend ${ARG_BACKEND} ${define_args}
    DEPENDS "${cell_file}" ${cellc_dep}
    COMMENT "cellc: compiling ${stem}.cell"
    VERBATIM)
  add_custom_target(${target}_build DEPENDS "${lib}")
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${lib}" IMPORTED_NO_SONAME TRUE)
  file(MAKE_DIRECTORY "${out_dir}")
  target_include_directories(${target} INTERFACE "${out_dir}")
  add_dependencies(${target} ${target}_build)
endfunction()
