// Adds a method to a TorchScript module that returns the input of its last linear layer: the
// penultimate-layer embedding. Works on traced and scripted modules alike, because it reads the
// inlined graph of `forward` instead of relying on names or exported methods.
#include <torch/script.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

namespace {

void write_error(const std::string& message, char* err, size_t err_len) {
  if (err_len == 0) return;
  size_t n = std::min(message.size(), err_len - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// The features a final layer node reads, or nullptr when `node` is not a final-layer kind.
torch::jit::Value* features_of(torch::jit::Node* node) {
  static const auto linear = c10::Symbol::fromQualString("aten::linear");
  static const auto addmm = c10::Symbol::fromQualString("aten::addmm");
  static const auto matmul = c10::Symbol::fromQualString("aten::matmul");
  if (node->kind() == linear || node->kind() == matmul) return node->inputs()[0];
  if (node->kind() == addmm) return node->inputs()[1];
  return nullptr;
}

}  // namespace

extern "C" {

// Reads a TorchScript archive (`data`, `len` bytes), adds `method_name` returning the input of the
// last linear/addmm/matmul node at the top level of the inlined `forward`, and writes the new
// archive to `*out` (`*out_len` bytes, free with eyeball_free_buffer). Returns 0 on success, else
// writes a message to `err`.
int eyeball_add_embedding_method(const char* data, size_t len, const char* method_name, char** out,
                                 size_t* out_len, char* err, size_t err_len) {
  try {
    std::istringstream input(std::string(data, len));
    auto module = torch::jit::load(input);
    auto graph = module.get_method("forward").graph()->copy();
    torch::jit::Inline(*graph);
    torch::jit::Value* features = nullptr;
    for (auto node : graph->nodes()) {
      if (auto value = features_of(node)) features = value;
    }
    if (features == nullptr) {
      write_error("forward has no linear layer outside loops and branches, so there is no "
                  "penultimate layer to read",
                  err, err_len);
      return 1;
    }
    while (graph->outputs().size() > 0) graph->eraseOutput(0);
    graph->registerOutput(features);
    torch::jit::EliminateDeadCode(graph);
    auto unit = module._ivalue()->compilation_unit();
    auto name = c10::QualifiedName(*module.type()->name(), method_name);
    module.type()->addMethod(unit->create_function(name, graph));
    std::ostringstream saved;
    module.save(saved);
    const std::string bytes = saved.str();
    *out = static_cast<char*>(std::malloc(bytes.size()));
    if (*out == nullptr) {
      write_error("out of memory", err, err_len);
      return 1;
    }
    std::memcpy(*out, bytes.data(), bytes.size());
    *out_len = bytes.size();
    return 0;
  } catch (const std::exception& e) {
    write_error(e.what(), err, err_len);
    return 1;
  }
}

void eyeball_free_buffer(char* buffer) { std::free(buffer); }

}  // extern "C"
