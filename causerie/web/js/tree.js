// The message tree of a conversation: the branch being viewed, siblings, and where a sibling's branch ends.

export class MessageTree {
  // messages: every node of the conversation (all branches), as GET /v1/conversations/{id} returns them.
  constructor(messages) {
    this.byId = new Map(messages.map((message) => [message.id, message]));
    this.roots = messages.filter((message) => message.parent_id === null).map((message) => message.id);
  }

  get(id) {
    return this.byId.get(id);
  }

  // Root → leaf path of the branch that ends at leafId (empty when leafId is null or unknown).
  path(leafId) {
    const path = [];
    for (let node = this.byId.get(leafId); node; node = this.byId.get(node.parent_id)) path.unshift(node);
    return path;
  }

  // Ids of the message and its siblings (same parent), in creation order.
  siblings(message) {
    if (message.parent_id === null) return this.roots;
    return this.byId.get(message.parent_id)?.children ?? [message.id];
  }

  // Where the view lands when moving to message id: follow the newest child down to a leaf.
  leafFrom(id) {
    let node = this.byId.get(id);
    while (node && node.children && node.children.length) node = this.byId.get(node.children[node.children.length - 1]);
    return node ? node.id : id;
  }
}
