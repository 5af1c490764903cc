// ONNX attributes -> octet attributes, and the two ops whose tensor
// attributes the importer resolves itself (Constant, ConstantOfShape).
#include "loaders/onnx/onnx_internal.hpp"

namespace octet {

namespace {

using AP = onnx::AttributeProto;

std::string attr_where(const Node& node, const std::string& name) {
  return node.where() + ": attribute '" + name + "'";
}

std::string type_name(AP::AttributeType type) {
  const std::string& name = onnx::AttributeProto_AttributeType_Name(type);
  return name.empty() ? std::to_string(static_cast<int>(type)) : name;
}

AttrValue convert_plain(const AP& a, const Node& node) {
  switch (a.type()) {
    case AP::FLOAT:
      return static_cast<double>(a.f());
    case AP::INT:
      return static_cast<int64_t>(a.i());
    case AP::STRING:
      return a.s();
    case AP::FLOATS:
      return std::vector<double>(a.floats().begin(), a.floats().end());
    case AP::INTS:
      return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case AP::STRINGS:
      return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case AP::UNDEFINED:
      throw Error(ErrorCode::invalid_model, attr_where(node, a.name()) + " has no type");
    default:
      // Tensors (other than Constant's and ConstantOfShape's), graphs
      // (If/Loop/Scan bodies) and type protos: octet has no use for them, and
      // refusing graphs keeps the importer free of attacker-controlled recursion.
      throw Error(ErrorCode::unsupported, attr_where(node, a.name()) + " of type " +
                                              type_name(a.type()) + " is not supported");
  }
}

// ConstantOfShape's one-element `value` tensor becomes two plain attributes
// so that the op needs no tensor-valued attributes.
void convert_fill_value(const AP& a, const std::string& base_dir, Node& node) {
  if (a.type() != AP::TENSOR) {
    throw Error(ErrorCode::invalid_model, attr_where(node, "value") + " must be a tensor");
  }
  const Tensor t = tensor_from_onnx(a.t(), base_dir, attr_where(node, "value"));
  if (t.numel() != 1) {
    throw Error(
        ErrorCode::invalid_model,
        attr_where(node, "value") + " must hold one element, found " + std::to_string(t.numel()));
  }
  switch (t.dtype()) {
    case DataType::f32:
      node.attrs["value"] = static_cast<double>(t.data<float>()[0]);
      break;
    case DataType::s64:
      node.attrs["value"] = t.data<int64_t>()[0];
      break;
    case DataType::s32:
      node.attrs["value"] = static_cast<int64_t>(t.data<int32_t>()[0]);
      break;
    case DataType::s8:
      node.attrs["value"] = static_cast<int64_t>(t.data<int8_t>()[0]);
      break;
    case DataType::u8:
    case DataType::boolean:
      node.attrs["value"] = static_cast<int64_t>(static_cast<const uint8_t*>(t.raw())[0]);
      break;
  }
  node.attrs["dtype"] = std::string(to_string(t.dtype()));
}

Tensor scalar_tensor(float value) {
  Tensor t(DataType::f32, {});
  t.data<float>()[0] = value;
  return t;
}

Tensor scalar_tensor(int64_t value) {
  Tensor t(DataType::s64, {});
  t.data<int64_t>()[0] = value;
  return t;
}

template <class T, class Field>
Tensor vector_tensor(const Field& field) {
  Tensor t(DataTypeOf<T>::value, {static_cast<int64_t>(field.size())});
  std::copy(field.begin(), field.end(), t.data<T>());
  return t;
}

void expect_type(const AP& a, AP::AttributeType type, const Node& node) {
  if (a.type() != type) {
    throw Error(ErrorCode::invalid_model, attr_where(node, a.name()) + " must be of type " +
                                              type_name(type) + ", found " + type_name(a.type()));
  }
}

}  // namespace

void convert_attributes(const onnx::NodeProto& proto, const std::string& base_dir, Node& node) {
  for (const AP& a : proto.attribute()) {
    if (a.name().empty()) {
      throw Error(ErrorCode::invalid_model, node.where() + ": an attribute has no name");
    }
    if (!a.ref_attr_name().empty()) {
      throw Error(ErrorCode::unsupported,
                  attr_where(node, a.name()) + " refers to a function attribute");
    }
    if (node.attrs.count(a.name())) {
      throw Error(ErrorCode::invalid_model, attr_where(node, a.name()) + " is given twice");
    }
    if (node.op == "ConstantOfShape" && a.name() == "value") {
      convert_fill_value(a, base_dir, node);
      continue;
    }
    node.attrs[a.name()] = convert_plain(a, node);
  }
  if (node.op == "ConstantOfShape" && !node.has_attr("value")) {
    node.attrs["value"] = 0.0;  // the ONNX default: a float32 zero
    node.attrs["dtype"] = std::string("f32");
  }
}

Tensor constant_node_value(const onnx::NodeProto& proto, const std::string& base_dir,
                           const Node& node) {
  if (proto.attribute_size() != 1) {
    throw Error(ErrorCode::invalid_model, node.where() +
                                              " must have exactly one attribute, found " +
                                              std::to_string(proto.attribute_size()));
  }
  const AP& a = proto.attribute(0);
  const std::string& name = a.name();
  if (name == "value") {
    expect_type(a, AP::TENSOR, node);
    return tensor_from_onnx(a.t(), base_dir, attr_where(node, name));
  }
  if (name == "value_float") {
    expect_type(a, AP::FLOAT, node);
    return scalar_tensor(a.f());
  }
  if (name == "value_int") {
    expect_type(a, AP::INT, node);
    return scalar_tensor(static_cast<int64_t>(a.i()));
  }
  if (name == "value_floats") {
    expect_type(a, AP::FLOATS, node);
    return vector_tensor<float>(a.floats());
  }
  if (name == "value_ints") {
    expect_type(a, AP::INTS, node);
    return vector_tensor<int64_t>(a.ints());
  }
  if (name == "value_string" || name == "value_strings" || name == "sparse_value") {
    throw Error(ErrorCode::unsupported, attr_where(node, name) + " is not supported");
  }
  throw Error(ErrorCode::invalid_model, attr_where(node, name) + " is not a Constant attribute");
}

}  // namespace octet
